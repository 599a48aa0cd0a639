/**
 * {@link StepBackend} over a running pipeline: sends `stage.input` to stage 0
 * and receives the last stage's `stage.tokens` (or `stage.logits`) back
 * through the chain. Many steps may be in flight at once (one per stage keeps
 * every stage busy).
 */
import type { Logger } from "pino";
import { RpcClient, type CurveClientOptions, type Message } from "../transport/index.js";
import type { StepBackend, StepItem, StepResult } from "./backend.js";
import type { PipelineExtra } from "./stage-host.js";

export interface PipelineClientOptions {
  /** Stage 0's endpoint. */
  readonly endpoint: string;
  /** Number of pipeline stages (micro-batches kept in flight). */
  readonly stages: number;
  readonly vocabSize: number;
  readonly name?: string;
  /** Deadline of one step, ms (default 30 s). */
  readonly stepDeadlineMs?: number;
  readonly curve?: CurveClientOptions;
  readonly logger?: Logger;
}

export class PipelineClient implements StepBackend {
  readonly maxInFlight: number;
  private readonly client: RpcClient;
  private batch = 0;

  constructor(private readonly opts: PipelineClientOptions) {
    this.maxInFlight = opts.stages;
    this.client = RpcClient.connect({
      endpoint: opts.endpoint,
      name: opts.name ?? "gateway",
      expect: { dModel: opts.vocabSize, kinds: ["stage.tokens", "stage.logits", "seq.release", "error", "pong"] },
      curve: opts.curve,
      logger: opts.logger,
      defaultDeadlineMs: opts.stepDeadlineMs ?? 30_000,
    });
  }

  async step(items: readonly StepItem[], o: { deadline?: number } = {}): Promise<StepResult[]> {
    const n = items.reduce((a, it) => a + it.tokens.length, 0);
    const seq = new Uint32Array(n);
    const pos = new Uint32Array(n);
    const token = new Uint32Array(n);
    const extra: PipelineExtra = {};
    let r = 0;
    for (const it of items) {
      if (it.tokens.length === 0) throw new RangeError(`sequence ${it.seq}: a step needs at least one token`);
      it.tokens.forEach((t, i) => {
        seq[r] = it.seq;
        pos[r] = it.pos + i;
        token[r++] = t;
      });
      if (it.pos === 0 && it.sampling) (extra.sampling ??= {})[String(it.seq)] = it.sampling;
      if (it.wantLogits) (extra.logits ??= []).push(it.seq);
    }
    const deadlineMs = o.deadline ? Math.max(1, o.deadline - Date.now()) : this.opts.stepDeadlineMs ?? 30_000;
    const reply: Message = await this.client.request({ kind: "stage.input", seq, pos, token, extra: extra as Record<string, unknown>, batch: this.batch++ >>> 0 }, { deadlineMs });
    if (reply.kind !== "stage.tokens" && reply.kind !== "stage.logits") throw new Error(`stage 0 answered a step with ${reply.kind}`);
    const V = this.opts.vocabSize;
    const bySeq = new Map<number, StepResult>();
    for (let i = 0; i < reply.seq.length; i++)
      bySeq.set(reply.seq[i]!, {
        seq: reply.seq[i]!,
        token: reply.token[i]!,
        logprob: reply.logprob[i]!,
        ...(reply.kind === "stage.logits" ? { logits: reply.hidden.slice(i * V, (i + 1) * V) } : {}),
      });
    return items.map((it) => {
      const res = bySeq.get(it.seq);
      if (!res) throw new Error(`the pipeline returned no token for sequence ${it.seq}`);
      return res;
    });
  }

  async release(seqs: readonly number[]): Promise<void> {
    if (seqs.length) await this.client.request({ kind: "seq.release", seq: Uint32Array.from(seqs) });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
