/**
 * {@link StepBackend} over a running pipeline. The client connects a DEALER
 * to every stage under one routing id (its `origin`), sends each step's
 * `stage.input` one way to stage 0, and receives the step's `stage.tokens`
 * straight from the last stage — or an `error` from whichever stage failed
 * it. Many steps may be in flight at once (one per stage keeps every stage
 * busy); `seq.release` goes to every stage at once.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { stepRows } from "../model/index.js";
import { DEFAULT_STEP_DEADLINE_MS, RemoteError, RpcClient, deadlineIn, msUntil, type CurveClientOptions, type Message } from "../transport/index.js";
import { stepResults, type StepBackend, type StepItem, type StepResult } from "./backend.js";

export interface PipelineClientOptions {
  /** Every stage's endpoint, stage 0 first. */
  readonly endpoints: readonly string[];
  readonly vocabSize: number;
  /** Name prefix of this client's routing id. */
  readonly name?: string;
  /** Deadline of one step, ms (default 30 s). */
  readonly stepDeadlineMs?: number;
  /** Steps kept in flight (default: the number of stages). */
  readonly maxInFlight?: number;
  readonly curve?: CurveClientOptions;
  readonly logger?: Logger;
}

interface PendingStep {
  readonly items: readonly StepItem[];
  readonly resolve: (r: StepResult[]) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
  logits?: { seq: Uint32Array; pos: Uint32Array; values: Float32Array };
}

/** Step ids live apart from RpcClient request ids (which count up from 1). */
const STEP_ID_BASE = 2 ** 52;

export class PipelineClient implements StepBackend {
  readonly maxInFlight: number;
  /** This client's routing id: the `origin` of its steps. */
  readonly origin: string;
  private readonly clients: RpcClient[];
  private readonly pending = new Map<number, PendingStep>();
  private nextStep = 0;
  private connecting: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: PipelineClientOptions) {
    if (opts.endpoints.length === 0) throw new Error("a pipeline client needs at least one stage endpoint");
    this.maxInFlight = opts.maxInFlight ?? opts.endpoints.length;
    this.origin = `${opts.name ?? "client"}-${process.pid}-${randomBytes(4).toString("hex")}`;
    const last = opts.endpoints.length - 1;
    this.clients = opts.endpoints.map((endpoint, i) =>
      RpcClient.connect({
        endpoint,
        name: this.origin,
        identity: this.origin,
        // stage 0 answers nothing but errors and pongs; the last stage sends tokens and logits (rows of vocab width)
        expect: { dModel: opts.vocabSize, kinds: i === last ? ["stage.tokens", "stage.logits", "seq.release", "seq.bias", "error", "pong"] : ["seq.release", "error", "pong"] },
        curve: opts.curve,
        logger: opts.logger,
        defaultDeadlineMs: opts.stepDeadlineMs ?? DEFAULT_STEP_DEADLINE_MS,
        onMessage: (m) => this.onPush(m, endpoint),
        onDisconnect: () => this.failAll(`the connection to stage ${i} (${endpoint}) was lost`),
      }),
    );
  }

  /** Connect to every stage (a ping each) so that each knows this client's routing id before a step. */
  private ready(): Promise<void> {
    this.connecting ??= Promise.all(this.clients.map((c) => c.ping({ deadlineMs: this.opts.stepDeadlineMs ?? DEFAULT_STEP_DEADLINE_MS }))).then(
      () => undefined,
      (e: unknown) => {
        this.connecting = undefined;
        throw e;
      },
    );
    return this.connecting;
  }

  async step(items: readonly StepItem[], o: { deadline?: number } = {}): Promise<StepResult[]> {
    if (this.closed) throw new Error("the pipeline client is closed");
    await this.ready();
    const rows = stepRows(items);
    const deadlineMs = msUntil(o.deadline, this.opts.stepDeadlineMs ?? DEFAULT_STEP_DEADLINE_MS);
    const biased = items.filter((it) => it.pos === 0 && it.sampling?.logitBias?.size);
    if (biased.length) await this.sendBias(biased, deadlineMs);
    const id = STEP_ID_BASE + (this.nextStep = (this.nextStep + 1) % 2 ** 32);
    const result = new Promise<StepResult[]>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, new Error(`step ${id - STEP_ID_BASE} got no tokens from the pipeline within ${deadlineMs} ms`)), deadlineMs);
      this.pending.set(id, { items, resolve, reject, timer });
    });
    try {
      await this.clients[0]!.send({ kind: "stage.input", id, origin: this.origin, batch: id % 2 ** 32, deadline: deadlineIn(deadlineMs), ...rows });
    } catch (e) {
      this.settle(id, e as Error);
    }
    return result;
  }

  /** Logit biases of starting sequences go to the last stage first (one row per (seq, token)). */
  private async sendBias(items: readonly StepItem[], deadlineMs: number): Promise<void> {
    const entries = items.flatMap((it) => [...it.sampling!.logitBias!].map(([t, b]) => [it.seq, t, b] as const));
    await this.clients.at(-1)!.request(
      { kind: "seq.bias", seq: Uint32Array.from(entries, (e) => e[0]), token: Uint32Array.from(entries, (e) => e[1]), bias: Float32Array.from(entries, (e) => e[2]) },
      { deadlineMs },
    );
  }

  private onPush(m: Message, endpoint: string): void {
    const p = m.id === undefined ? undefined : this.pending.get(m.id);
    if (!p) {
      this.opts.logger?.debug({ kind: m.kind, id: m.id, endpoint }, "a pipeline message for no pending step (late or unknown)");
      return;
    }
    if (m.kind === "stage.logits") p.logits = { seq: m.seq, pos: m.pos, values: m.hidden };
    else if (m.kind === "error") this.settle(m.id!, new RemoteError(m.code, `step failed at ${m.host ?? endpoint}: ${m.code}: ${m.message}`, { peer: endpoint, kind: "stage.input", id: m.id, layer: m.layer, expert: m.expert, host: m.host }));
    else if (m.kind === "stage.tokens") {
      let results: StepResult[];
      try {
        results = stepResults(p.items, { sampled: sampledOf(m.seq, m.rank, m.token, m.logprob), ...(p.logits ? { logits: p.logits } : {}) }, this.opts.vocabSize);
      } catch (e) {
        return void this.settle(m.id!, e as Error);
      }
      this.settle(m.id!, undefined, results);
    }
  }

  private settle(id: number, err?: Error, results?: StepResult[]): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(results!);
  }

  private failAll(why: string): void {
    for (const id of [...this.pending.keys()]) this.settle(id, new Error(`step failed: ${why}`));
  }

  async release(seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.ready();
    await Promise.all(this.clients.map((c) => c.request({ kind: "seq.release", seq: Uint32Array.from(seqs) })));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll("the pipeline client closed");
    await Promise.all(this.clients.map((c) => c.close()));
  }
}

/** `stage.tokens` rows (rank 0 = sampled, 1.. = alternatives) as sampled rows. */
function sampledOf(seq: Uint32Array, rank: Uint32Array, token: Uint32Array, logprob: Float32Array) {
  const out: { seq: number; token: number; logprob: number; top?: { token: number; logprob: number }[] }[] = [];
  for (let i = 0; i < seq.length; i++) {
    if (rank[i] === 0) out.push({ seq: seq[i]!, token: token[i]!, logprob: logprob[i]! });
    else (out.at(-1)!.top ??= []).push({ token: token[i]!, logprob: logprob[i]! });
  }
  return out;
}
