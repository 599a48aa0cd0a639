/**
 * The expert host: holds any set of (layer, expert) FFNs read from the weight
 * file (only those bytes), per layer in layer-of-experts sessions ({@link ExpertSessions}),
 * serves `moe.dispatch` on a ZeroMQ ROUTER and batches the rows for one layer
 * from several routers into one run per session.
 */
import type { Logger } from "pino";
import type { ComputeOptions, ModelConfig, WeightReader } from "../model/index.js";
import { RpcServer, type CurveServerOptions, type Incoming, type Message, type MoeDispatch, type WireDtype } from "../transport/index.js";
import { ExpertBatcher } from "./expert-batcher.js";
import { ExpertSessions } from "./expert-sessions.js";

/** Options of an expert host. */
export interface ExpertHostOptions {
  /** Host name (in errors and replies). */
  readonly name: string;
  readonly config: ModelConfig;
  readonly weights: WeightReader;
  /** (layer, expert) pairs to load. */
  readonly experts: readonly (readonly [layer: number, expert: number])[];
  /** Where to bind, e.g. `tcp://127.0.0.1:7200`. */
  readonly endpoint: string;
  readonly compute?: ComputeOptions;
  /** Wire dtype of replies (requests may use either). */
  readonly wireDtype?: WireDtype;
  readonly curve?: CurveServerOptions;
  readonly logger?: Logger;
}

/** What {@link ExpertHost.retainOnly} did. */
export interface UnloadReport {
  /** Experts no longer served. */
  readonly unloaded: number;
  /** Sessions closed because they served none of their experts any more. */
  readonly closedSessions: number;
  /** Sessions rebuilt with the experts they keep: per rebuilt session its layer, kept experts and the weight bytes freed. */
  readonly rebuilt: readonly { readonly layer: number; readonly experts: readonly number[]; readonly freedBytes: number }[];
  /** Sessions that could not be rebuilt (they keep serving, with the dropped experts' weights): their experts and why. */
  readonly failed: readonly { readonly layer: number; readonly experts: readonly number[]; readonly error: string }[];
  /** Wall time of the rebuilds (building, swapping, closing the old sessions), ms. */
  readonly rebuildMs: number;
  /** Expert weight bytes (as stored) the host's sessions held before and after. */
  readonly residentWeightBytes: { readonly before: number; readonly after: number };
}

/** A running expert host. */
export class ExpertHost {
  private readonly serving: Promise<void>;
  private closed = false;
  /** The last re-plan change (add or unload) queued: they run one at a time. */
  private changing: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly name: string,
    readonly server: RpcServer,
    readonly batcher: ExpertBatcher,
    /** The loaded experts' sessions (shared with the batcher). */
    private readonly sessions: ExpertSessions,
    private readonly wireDtype: WireDtype,
    private readonly config: ModelConfig,
    private readonly opts: ExpertHostOptions,
  ) {
    this.serving = server.serve((req) => this.handle(req), { concurrency: 1024 });
  }

  /** Load the experts, build their sessions, bind and start serving. */
  static async start(opts: ExpertHostOptions): Promise<ExpertHost> {
    const sessions = new ExpertSessions(opts.name, opts.config, opts.compute);
    try {
      await sessions.add(opts.experts, opts.weights);
    } catch (e) {
      await sessions.close();
      throw e;
    }
    const server = await RpcServer.bind({
      endpoint: opts.endpoint,
      name: opts.name,
      expect: { dModel: opts.config.dModel, kinds: ["moe.dispatch", "ping"] },
      curve: opts.curve,
      logger: opts.logger,
    });
    return new ExpertHost(opts.name, server, new ExpertBatcher(sessions, opts.config.dModel), sessions, opts.wireDtype ?? "f32", opts.config, opts);
  }

  /** (layer, expert) pairs held now, sorted. */
  experts(): [number, number][] {
    return this.sessions.list();
  }

  /**
   * Load `experts` not held yet (a re-plan placed them here) from `weights` (default: the reader it started
   * with; a host that received a further part passes the reader of its parts as they are now); held ones
   * are kept. The new experts of a layer become one session; serves them once loaded. @returns how many were loaded
   */
  async addExperts(experts: readonly (readonly [number, number])[], weights: WeightReader = this.opts.weights): Promise<number> {
    return this.exclusive(() => this.sessions.add(experts, weights));
  }

  /**
   * Unload every expert not in `experts`: rows for them fail at once; a session serving none of its experts
   * any more is closed once no batch uses it; a session that keeps some (layer sessions) is rebuilt with
   * only those, read from `weights` (default: the reader it started with; a dynamic host passes the
   * reader of its parts as they are now), swapped in while it keeps serving, then closed — so the dropped
   * experts' weights are freed. A session that cannot be rebuilt keeps serving (its dropped experts' weights
   * stay; {@link UnloadReport.failed}). One re-plan change at a time (with {@link addExperts}).
   */
  async retainOnly(experts: readonly (readonly [number, number])[], weights: WeightReader = this.opts.weights): Promise<UnloadReport> {
    return this.exclusive(async () => {
      const before = this.sessions.resident().weightBytes;
      const { dropped, unused, partial } = this.sessions.retainOnly(experts);
      await this.batcher.idle();
      for (const b of unused) await b.close();
      const t0 = performance.now();
      const rebuilt: UnloadReport["rebuilt"][number][] = [];
      const failed: UnloadReport["failed"][number][] = [];
      for (const { layer, block: b } of partial) {
        try {
          const r = await this.sessions.rebuild(layer, b, weights);
          await this.batcher.idle();
          await r.old.close();
          rebuilt.push({ layer: r.layer, experts: r.experts, freedBytes: r.old.weightBytes - r.weightBytes });
        } catch (e) {
          failed.push({ layer, experts: [...b.experts], error: (e as Error).message });
        }
      }
      const after = this.sessions.resident().weightBytes;
      return { unloaded: dropped, closedSessions: unused.length, rebuilt, failed, rebuildMs: performance.now() - t0, residentWeightBytes: { before, after } };
    });
  }

  /** Experts whose weights this host holds (served, or dropped but kept by a session that could not be rebuilt) and their bytes as stored. */
  resident(): { experts: number; weightBytes: number } {
    return this.sessions.resident();
  }

  /** Run `f` after every re-plan change queued before it. */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.changing.then(f);
    this.changing = run.catch(() => undefined);
    return run;
  }

  /** The bound address. */
  get endpoint(): string {
    return this.server.endpoint;
  }

  private async handle(req: Incoming): Promise<Message | undefined> {
    const m = req.message;
    if (m.kind === "ping") return { kind: "pong" };
    if (m.kind !== "moe.dispatch") return undefined;
    return this.dispatch(m);
  }

  /** Run the message's rows (all of one layer) through the batcher: one run per layer session; answer in the same row order. */
  private async dispatch(m: MoeDispatch): Promise<Message> {
    const D = this.config.dModel;
    for (const e of new Set(m.expert))
      if (!this.batcher.holds(m.layer, e))
        throw Object.assign(new Error(`expert ${e} of layer ${m.layer} is not loaded on host ${this.name}`), { code: "EXPERT_NOT_LOADED", layer: m.layer, expert: e });
    const hidden = await this.batcher.submit(m.layer, m.hidden, m.expert);
    return { kind: "moe.result", layer: m.layer, row: m.row, seq: m.seq, pos: m.pos, expert: m.expert, hidden, dModel: D, wireDtype: this.wireDtype };
  }

  /** Stop serving and free sockets and sessions; safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.server.close();
    await this.serving.catch(() => undefined);
    await this.batcher.idle();
    await this.sessions.close();
  }
}
