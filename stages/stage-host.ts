/**
 * The stage host: owns a contiguous layer range [first, end) — embedding on
 * stage 0, attention + norms + KV caches of every live sequence for its
 * layers, and on the last stage the final norm, unembedding and sampling, so
 * only token ids travel back. MoE runs through its router (co-located
 * RouterCore by default). Requests are `stage.input` (stage 0) or
 * `stage.forward` (others); the reply is the `stage.tokens` (or `stage.logits`)
 * message that comes back from the last stage. `seq.release` frees a
 * sequence's caches on every stage.
 */
import type { Logger } from "pino";
import {
  EmbeddingTable,
  HeadBlock,
  headWeights,
  LayerStack,
  Sampler,
  type ComputeOptions,
  type LayerKv,
  type ModelConfig,
  type MoeExecutor,
  type SamplingParams,
  type WeightReader,
} from "../model/index.js";
import type { MoeRouter } from "../router/index.js";
import { RpcClient, RpcServer, type CurveClientOptions, type CurveServerOptions, type Incoming, type Message, type WireDtype } from "../transport/index.js";
import { groupRows, type RowGroup } from "./rows.js";

/** Options of a stage host. */
export interface StageHostOptions {
  readonly name: string;
  readonly config: ModelConfig;
  readonly weights: WeightReader;
  /** Layer range [first, endExclusive). */
  readonly layers: readonly [number, number];
  /** Where to bind. */
  readonly endpoint: string;
  /** Endpoint of the next stage (absent on the last stage). */
  readonly next?: string;
  /** The MoE router of this stage: a RouterCore in this process, or a RemoteRouter. */
  readonly router: MoeRouter;
  readonly compute?: ComputeOptions;
  readonly wireDtype?: WireDtype;
  readonly curveServer?: CurveServerOptions;
  readonly curveClient?: CurveClientOptions;
  readonly logger?: Logger;
}

/** Extra header data of pipeline requests (Envelope.extra). */
export interface PipelineExtra {
  /** Sampling settings of sequences starting in this request, by seq id. */
  sampling?: Record<string, SamplingParams>;
  /** Sequences whose logits the last stage returns (stage.logits reply). */
  logits?: number[];
}

/** Busy-time counters of a stage (seconds). */
export interface StageStats {
  busySeconds: number;
  requests: number;
  rows: number;
}

export class StageHost {
  private readonly caches = new Map<number, LayerKv[]>();
  private readonly samplers = new Map<number, Sampler>();
  private readonly serving: Promise<void>;
  private closed = false;
  readonly stats: StageStats = { busySeconds: 0, requests: 0, rows: 0 };

  private constructor(
    private readonly opts: StageHostOptions,
    readonly server: RpcServer,
    private readonly stack: LayerStack,
    private readonly embedding: EmbeddingTable | undefined,
    private readonly head: HeadBlock | undefined,
    private readonly next: RpcClient | undefined,
  ) {
    this.serving = server.serve((req) => this.handle(req), { concurrency: 256 });
  }

  /** Load this stage's layers (and embedding / head), bind, connect to the next stage, start serving. */
  static async start(opts: StageHostOptions): Promise<StageHost> {
    const { config: cfg, weights } = opts;
    const [first, end] = opts.layers;
    const stack = await LayerStack.create(cfg, weights, first, end, opts.compute);
    const embedding = first === 0 ? EmbeddingTable.load(weights, cfg) : undefined;
    const isLast = end === cfg.nLayers;
    const head = isLast ? await HeadBlock.create(cfg, headWeights(weights, cfg), opts.compute) : undefined;
    if (!isLast && !opts.next) throw new Error(`${opts.name}: stage [${first}, ${end}) is not the last stage but has no next stage endpoint`);
    const kinds = first === 0 ? (["stage.input", "seq.release", "ping"] as const) : (["stage.forward", "seq.release", "ping"] as const);
    const server = await RpcServer.bind({ endpoint: opts.endpoint, name: opts.name, expect: { dModel: cfg.dModel, kinds: [...kinds] }, curve: opts.curveServer, logger: opts.logger });
    const next = isLast
      ? undefined
      : RpcClient.connect({
          endpoint: opts.next!,
          name: opts.name,
          // replies from downstream are stage.tokens / stage.logits (rows of vocab width) or seq.release acks
          expect: { dModel: cfg.vocabSize, kinds: ["stage.tokens", "stage.logits", "seq.release", "error", "pong"] },
          curve: opts.curveClient,
          logger: opts.logger,
        });
    return new StageHost(opts, server, stack, embedding, head, next);
  }

  get endpoint(): string {
    return this.server.endpoint;
  }

  /** Sequences holding KV caches here. */
  get liveSequences(): number {
    return this.caches.size;
  }

  private async handle(req: Incoming): Promise<Message | undefined> {
    const m = req.message;
    switch (m.kind) {
      case "ping":
        return { kind: "pong" };
      case "seq.release":
        return this.release(m.seq, m.deadline);
      case "stage.input":
      case "stage.forward":
        return this.forward(m, m.kind === "stage.forward" ? m.hidden : undefined);
      default:
        return undefined;
    }
  }

  private async release(seqs: Uint32Array, deadline: number | undefined): Promise<Message> {
    for (const s of seqs) {
      this.caches.delete(s);
      this.samplers.delete(s);
    }
    if (this.next) await this.next.request({ kind: "seq.release", seq: seqs }, { deadlineMs: deadlineLeft(deadline) });
    return { kind: "seq.release", seq: seqs };
  }

  private async forward(
    m: { seq: Uint32Array; pos: Uint32Array; token: Uint32Array; deadline?: number; extra?: Record<string, unknown>; batch?: number },
    hidden: Float32Array | undefined,
  ): Promise<Message> {
    const t0 = performance.now();
    const cfg = this.opts.config;
    const D = cfg.dModel;
    const groups = groupRows(m.seq, m.pos);
    const extra = (m.extra ?? {}) as PipelineExtra;
    const x = hidden ?? this.embedding!.rows(Array.from(m.token));
    const items = groups.map((g) => ({ kv: this.cachesFor(g), x: x.subarray(g.start * D, (g.start + g.count) * D) }));
    const deadline = m.deadline && m.deadline > 0 ? m.deadline : Date.now() + 30_000;
    const router = this.opts.router;
    const moe: MoeExecutor = { run: (layer, mm) => router.moe(layer, mm, m.seq, m.pos, deadline) };
    let h: Float32Array;
    try {
      h = await this.stack.forward(items, moe);
    } catch (e) {
      // a failed step leaves the sequences' caches half-written: drop them
      for (const g of groups) this.caches.delete(g.seq);
      throw e;
    } finally {
      this.stats.busySeconds += (performance.now() - t0) / 1000;
      this.stats.requests++;
      this.stats.rows += m.seq.length;
    }
    if (this.next)
      return this.next.request(
        { kind: "stage.forward", row: Uint32Array.from(m.seq, (_, i) => i), seq: m.seq, pos: m.pos, token: m.token, hidden: h, dModel: D, wireDtype: this.opts.wireDtype ?? "f32", extra: m.extra, batch: m.batch },
        { deadlineMs: deadlineLeft(deadline) },
      );
    return this.sample(groups, h, extra);
  }

  /** Last stage: head on each sequence's last row, then sample. */
  private async sample(groups: readonly RowGroup[], h: Float32Array, extra: PipelineExtra): Promise<Message> {
    const t0 = performance.now();
    const cfg = this.opts.config;
    const D = cfg.dModel;
    const V = cfg.vocabSize;
    const last = new Float32Array(groups.length * D);
    groups.forEach((g, i) => last.set(h.subarray((g.start + g.count - 1) * D, (g.start + g.count) * D), i * D));
    const logits = await this.head!.run(last);
    const seq = new Uint32Array(groups.length);
    const token = new Uint32Array(groups.length);
    const logprob = new Float32Array(groups.length);
    groups.forEach((g, i) => {
      let sampler = this.samplers.get(g.seq);
      if (!sampler) {
        const p = extra.sampling?.[String(g.seq)] ?? { temperature: 0, topP: 1 };
        this.samplers.set(g.seq, (sampler = new Sampler(p)));
      }
      const s = sampler.sample(logits, i * V, V);
      seq[i] = g.seq;
      token[i] = s.token;
      logprob[i] = s.logprob;
    });
    this.stats.busySeconds += (performance.now() - t0) / 1000; // head + sampling (the layers were counted in forward)
    if (extra.logits?.length)
      return { kind: "stage.logits", row: Uint32Array.from(seq, (_, i) => i), seq, pos: Uint32Array.from(groups, (g) => g.lastPos), token, logprob, hidden: logits, dModel: V, wireDtype: "f32" };
    return { kind: "stage.tokens", seq, token, logprob };
  }

  /** The caches of a row group's sequence; a group starting at position 0 starts a fresh sequence. */
  private cachesFor(g: RowGroup): LayerKv[] {
    const ctx = this.opts.config.contextLength;
    if (g.lastPos >= ctx)
      throw Object.assign(new Error(`${this.opts.name}: sequence ${g.seq} would reach position ${g.lastPos}, past the context length ${ctx}`), { code: "CONTEXT_EXCEEDED" });
    let kv = this.caches.get(g.seq);
    if (g.firstPos === 0) {
      kv = this.stack.newCaches();
      this.caches.set(g.seq, kv);
      this.samplers.delete(g.seq);
    }
    if (!kv) throw Object.assign(new Error(`${this.opts.name}: sequence ${g.seq} is unknown here (position ${g.firstPos}); it was released or never started`), { code: "UNKNOWN_SEQUENCE" });
    if (kv[0]!.len !== g.firstPos)
      throw Object.assign(new Error(`${this.opts.name}: sequence ${g.seq} has ${kv[0]!.len} cached tokens but the step starts at position ${g.firstPos}`), { code: "POSITION_MISMATCH" });
    return kv;
  }

  /** Stop serving and free sockets and sessions; safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.server.close();
    await this.serving.catch(() => undefined);
    await this.next?.close();
    await this.stack.close();
    await this.head?.close();
  }
}

/** ms left until an absolute deadline (default 30 s). */
function deadlineLeft(deadline: number | undefined): number {
  return deadline && deadline > 0 ? Math.max(1, deadline - Date.now()) : 30_000;
}
