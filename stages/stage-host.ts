/**
 * The stage host: a server shell over a {@link LayerRangeEngine} for layers
 * [first, end). Stage 0 takes `stage.input` (token ids), the others
 * `stage.forward` (residual rows); every stage passes its output on to the
 * next with a one-way `stage.forward` and does not wait for the rest of the
 * pipeline. The last stage sends the sampled tokens (`stage.tokens`, after
 * `stage.logits` when asked for) straight to the step's `origin`, and any
 * stage that fails a step sends the `error` there too. `seq.release` frees a
 * sequence here (the client sends it to every stage); sequences idle past a
 * timeout are reclaimed.
 */
import type { Logger } from "pino";
import { LayerRangeEngine, type ComputeOptions, type ModelConfig, type MoeExecutor, type StepOutput, type WeightReader } from "../model/index.js";
import { DEFAULT_STEP_DEADLINE_MS, RpcClient, RpcServer, deadlineOr, type CurveClientOptions, type CurveServerOptions, type Incoming, type Kind, type Message, type StageForward, type StageInput, type WireDtype } from "../transport/index.js";
import type { MoeStep } from "./moe-step.js";

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
  /** The MoE step of each layer (a router in this process or in another). */
  readonly moe: MoeStep;
  readonly compute?: ComputeOptions;
  readonly wireDtype?: WireDtype;
  /** Reclaim sequences not stepped for this long, ms (default 300 000). */
  readonly idleTimeoutMs?: number;
  /** Default deadline of a step that carries none, ms (default 30 000). */
  readonly stepDeadlineMs?: number;
  readonly curveServer?: CurveServerOptions;
  readonly curveClient?: CurveClientOptions;
  readonly logger?: Logger;
}

/** Counters of a stage (seconds, counts). */
export interface StageStats {
  busySeconds: number;
  requests: number;
  rows: number;
  /** Steps that failed here. */
  failures: number;
}

export class StageHost {
  private readonly serving: Promise<void>;
  private readonly reclaimTimer: NodeJS.Timeout;
  private closed = false;
  readonly stats: StageStats = { busySeconds: 0, requests: 0, rows: 0, failures: 0 };

  private constructor(
    private readonly opts: StageHostOptions,
    readonly server: RpcServer,
    readonly core: LayerRangeEngine,
    private readonly next: RpcClient | undefined,
  ) {
    this.serving = server.serve((req) => this.handle(req), { concurrency: 256 });
    const idle = opts.idleTimeoutMs ?? 300_000;
    this.reclaimTimer = setInterval(() => this.reclaim(), Math.max(50, Math.min(idle / 4, 30_000)));
    this.reclaimTimer.unref();
  }

  /** Load this stage's layers (and embedding / head), bind, connect to the next stage, start serving. */
  static async start(opts: StageHostOptions): Promise<StageHost> {
    const cfg = opts.config;
    const [first, end] = opts.layers;
    const isLast = end === cfg.nLayers;
    if (!isLast && !opts.next) throw new Error(`${opts.name}: stage [${first}, ${end}) is not the last stage but has no next stage endpoint`);
    const core = await LayerRangeEngine.create(cfg, opts.weights, { layers: [first, end], compute: opts.compute, ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}) });
    const kinds: Kind[] = [first === 0 ? "stage.input" : "stage.forward", "seq.release", "ping", ...(isLast ? (["seq.bias"] as const) : [])];
    let server: RpcServer;
    try {
      server = await RpcServer.bind({ endpoint: opts.endpoint, name: opts.name, expect: { dModel: cfg.dModel, kinds }, curve: opts.curveServer, logger: opts.logger });
    } catch (e) {
      await core.close();
      throw e;
    }
    const next = isLast
      ? undefined
      : RpcClient.connect({ endpoint: opts.next!, name: opts.name, expect: { dModel: cfg.dModel, kinds: ["error", "pong"] }, curve: opts.curveClient, logger: opts.logger });
    return new StageHost(opts, server, core, next);
  }

  get endpoint(): string {
    return this.server.endpoint;
  }

  /** Sequences holding KV caches here. */
  get liveSequences(): number {
    return this.core.liveSequences;
  }

  /** Sequences reclaimed after sitting idle, since start. */
  get reclaimedSequences(): number {
    return this.core.reclaimed;
  }

  private reclaim(): void {
    const gone = this.core.reclaimIdle();
    if (gone.length) this.opts.logger?.warn({ seqs: gone.slice(0, 16), count: gone.length }, "reclaimed sequences idle past the timeout (their client never released them)");
  }

  private async handle(req: Incoming): Promise<Message | undefined> {
    const m = req.message;
    switch (m.kind) {
      case "ping":
        return { kind: "pong" };
      case "seq.release":
        this.core.release(m.seq);
        return { kind: "seq.release", seq: m.seq };
      case "seq.bias":
        this.setBias(m.seq, m.token, m.bias);
        return { kind: "seq.bias", seq: new Uint32Array(0), token: new Uint32Array(0), bias: new Float32Array(0) };
      case "stage.input":
      case "stage.forward":
        await this.step(req, m, m.kind === "stage.forward" ? m.hidden : undefined);
        return undefined;
      default:
        return undefined;
    }
  }

  private setBias(seq: Uint32Array, token: Uint32Array, bias: Float32Array): void {
    const per = new Map<number, Map<number, number>>();
    for (let i = 0; i < seq.length; i++) {
      if (token[i]! >= this.opts.config.vocabSize) throw Object.assign(new Error(`seq.bias row ${i}: token ${token[i]} is outside the vocabulary [0, ${this.opts.config.vocabSize})`), { code: "BAD_ROWS" });
      let b = per.get(seq[i]!);
      if (!b) per.set(seq[i]!, (b = new Map()));
      b.set(token[i]!, bias[i]!);
    }
    for (const [s, b] of per) this.core.setLogitBias(s, b);
  }

  /** Run a step, then pass it on (or, on the last stage, send its tokens to the origin); failures go to the origin. */
  private async step(req: Incoming, m: StageInput | StageForward, hidden: Float32Array | undefined): Promise<void> {
    const t0 = performance.now();
    const deadline = deadlineOr(m.deadline, this.opts.stepDeadlineMs ?? DEFAULT_STEP_DEADLINE_MS);
    const moeStep = this.opts.moe;
    const moe: MoeExecutor = { run: (layer, mm) => moeStep.moe(layer, mm, m.seq, m.pos, deadline) };
    try {
      let out: StepOutput;
      try {
        out = await this.core.step(m, hidden, moe);
      } finally {
        this.stats.busySeconds += (performance.now() - t0) / 1000;
        this.stats.requests++;
        this.stats.rows += m.seq.length;
      }
      if (out.hidden) await this.forward(m, out.hidden, deadline);
      else await this.deliver(req, m, out);
    } catch (err) {
      this.stats.failures++;
      await this.fail(req, m, err);
    }
  }

  private forward(m: StageInput | StageForward, hidden: Float32Array, deadline: number): Promise<void> {
    const { kind: _k, sender: _s, hiddenF16: _h, ...rest } = m as StageForward;
    const row = (m as StageForward).row ?? Uint32Array.from(m.seq, (_, i) => i);
    return this.next!.send({ ...rest, kind: "stage.forward", row, hidden, dModel: this.opts.config.dModel, wireDtype: this.opts.wireDtype ?? "f32", deadline });
  }

  /** Last stage: logits (when asked for), then the tokens, to the origin. */
  private async deliver(req: Incoming, m: StageInput | StageForward, out: StepOutput): Promise<void> {
    const envelope = { id: m.id, ...(m.batch !== undefined ? { batch: m.batch } : {}) };
    if (out.logits) {
      const l = out.logits;
      await this.sendHome(req, m, { kind: "stage.logits", ...envelope, row: Uint32Array.from(l.seq, (_, i) => i), seq: l.seq, pos: l.pos, hidden: l.values, dModel: this.opts.config.vocabSize, wireDtype: "f32" });
    }
    const sampled = out.sampled ?? [];
    const n = sampled.reduce((a, s) => a + 1 + (s.top?.length ?? 0), 0);
    const seq = new Uint32Array(n);
    const rank = new Uint32Array(n);
    const token = new Uint32Array(n);
    const logprob = new Float32Array(n);
    let r = 0;
    for (const s of sampled) {
      seq[r] = s.seq;
      token[r] = s.token;
      logprob[r++] = s.logprob;
      s.top?.forEach((t, k) => {
        seq[r] = s.seq;
        rank[r] = k + 1;
        token[r] = t.token;
        logprob[r++] = Math.max(t.logprob, -3.4e38); // finite on the wire
      });
    }
    for (let i = 0; i < n; i++) if (!Number.isFinite(logprob[i]!)) logprob[i] = -3.4e38;
    await this.sendHome(req, m, { kind: "stage.tokens", ...envelope, seq, rank, token, logprob });
  }

  /** Send to the step's origin (its routing id), or back to the sender when the step names none. */
  private sendHome(req: Incoming, m: StageInput | StageForward, msg: Message): Promise<void> {
    if (m.origin) return this.server.send(Buffer.from(m.origin, "latin1"), msg);
    return this.server.reply(req, msg);
  }

  private async fail(req: Incoming, m: StageInput | StageForward, err: unknown): Promise<void> {
    const e = err as { code?: unknown; remoteCode?: unknown; message?: unknown; layer?: unknown; expert?: unknown; host?: unknown };
    const raw = typeof e?.remoteCode === "string" ? e.remoteCode : e?.code;
    const code = typeof raw === "string" && /^[A-Za-z0-9_.:-]{1,64}$/.test(raw) ? raw : "STAGE_FAILED";
    const host = typeof e?.host === "string" && /^[\x20-\x7e]{0,128}$/.test(e.host) ? e.host : this.opts.name;
    const msg: Message = { kind: "error", id: m.id, code, message: `${this.opts.name}: ${String(e?.message ?? err)}`.slice(0, 1024), host };
    if (typeof e?.layer === "number") msg.layer = e.layer;
    if (typeof e?.expert === "number") msg.expert = e.expert;
    this.opts.logger?.warn({ id: m.id, code, err: msg.message }, "step failed");
    await this.sendHome(req, m, msg).catch((sendErr: unknown) => this.opts.logger?.warn({ err: (sendErr as Error).message }, "could not report a failed step to its origin"));
  }

  /** Stop serving and free sockets and sessions; safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.reclaimTimer);
    await this.server.close();
    await this.serving.catch(() => undefined);
    await this.next?.close();
    await this.core.close();
  }
}
