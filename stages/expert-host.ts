/**
 * The expert host: holds any set of (layer, expert) FFNs read from the weight
 * file (only those bytes), serves `moe.dispatch` on a ZeroMQ ROUTER and
 * batches rows for the same expert from several routers into one run.
 */
import type { Logger } from "pino";
import { ExpertBlock, expertWeights, type ComputeOptions, type ModelConfig, type WeightReader } from "../model/index.js";
import { RpcServer, type CurveServerOptions, type Incoming, type Message, type MoeDispatch, type WireDtype } from "../transport/index.js";
import { ExpertBatcher } from "./expert-batcher.js";

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

/** A running expert host. */
export class ExpertHost {
  private readonly serving: Promise<void>;
  private closed = false;

  private constructor(
    readonly name: string,
    readonly server: RpcServer,
    readonly batcher: ExpertBatcher,
    /** Loaded experts by "layer:expert" (shared with the batcher). */
    private readonly blocks: Map<string, ExpertBlock>,
    private readonly wireDtype: WireDtype,
    private readonly config: ModelConfig,
    private readonly opts: ExpertHostOptions,
  ) {
    this.serving = server.serve((req) => this.handle(req), { concurrency: 1024 });
  }

  /** Load the experts, build their sessions, bind and start serving. */
  static async start(opts: ExpertHostOptions): Promise<ExpertHost> {
    const blocks = new Map<string, ExpertBlock>();
    try {
      await loadBlocks(opts, opts.experts, blocks);
    } catch (e) {
      for (const b of blocks.values()) await b.close();
      throw e;
    }
    const server = await RpcServer.bind({
      endpoint: opts.endpoint,
      name: opts.name,
      expect: { dModel: opts.config.dModel, kinds: ["moe.dispatch", "ping"] },
      curve: opts.curve,
      logger: opts.logger,
    });
    return new ExpertHost(opts.name, server, new ExpertBatcher(blocks, opts.config.dModel), blocks, opts.wireDtype ?? "f32", opts.config, opts);
  }

  /** (layer, expert) pairs held now, sorted. */
  experts(): [number, number][] {
    return [...this.blocks.keys()].map((k) => k.split(":").map(Number) as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }

  /**
   * Load `experts` not held yet (a re-plan placed them here) from `weights` (default: the reader it started
   * with; a host that received a further part passes the reader of its parts as they are now); held ones
   * are kept. Serves them as soon as each is loaded. @returns how many were loaded
   */
  async addExperts(experts: readonly (readonly [number, number])[], weights: WeightReader = this.opts.weights): Promise<number> {
    const fresh = experts.filter(([l, e]) => !this.blocks.has(`${l}:${e}`));
    await loadBlocks({ ...this.opts, weights }, fresh, this.blocks);
    return fresh.length;
  }

  /** Unload every expert not in `experts` (once the batch running now, if any, is done). @returns how many were unloaded */
  async retainOnly(experts: readonly (readonly [number, number])[]): Promise<number> {
    const keep = new Set(experts.map(([l, e]) => `${l}:${e}`));
    const gone = [...this.blocks].filter(([k]) => !keep.has(k));
    for (const [k] of gone) this.blocks.delete(k);
    await this.batcher.idle();
    for (const [, b] of gone) await b.close();
    return gone.length;
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

  /** Run each expert's run of rows (contiguous in the message) through the batcher; answer in the same row order. */
  private async dispatch(m: MoeDispatch): Promise<Message> {
    const D = this.config.dModel;
    const runs: { expert: number; a: number; b: number }[] = [];
    for (let i = 0; i < m.expert.length; ) {
      let j = i + 1;
      while (j < m.expert.length && m.expert[j] === m.expert[i]) j++;
      runs.push({ expert: m.expert[i]!, a: i, b: j });
      i = j;
    }
    for (const r of runs)
      if (!this.batcher.holds(m.layer, r.expert))
        throw Object.assign(new Error(`expert ${r.expert} of layer ${m.layer} is not loaded on host ${this.name}`), { code: "EXPERT_NOT_LOADED", layer: m.layer, expert: r.expert });
    const ys = await Promise.all(runs.map((r) => this.batcher.submit(m.layer, r.expert, m.hidden.subarray(r.a * D, r.b * D))));
    const hidden = ys.length === 1 ? ys[0]! : new Float32Array(m.hidden.length);
    if (hidden !== ys[0]) runs.forEach((r, k) => hidden.set(ys[k]!, r.a * D));
    return { kind: "moe.result", layer: m.layer, row: m.row, seq: m.seq, pos: m.pos, expert: m.expert, hidden, dModel: D, wireDtype: this.wireDtype };
  }

  /** Stop serving and free sockets and sessions; safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.server.close();
    await this.serving.catch(() => undefined);
    await this.batcher.idle();
    for (const b of this.blocks.values()) await b.close();
    this.blocks.clear();
  }
}

/** Build the sessions of `experts` into `into` (checked against the model's shape). */
async function loadBlocks(opts: ExpertHostOptions, experts: readonly (readonly [number, number])[], into: Map<string, ExpertBlock>): Promise<void> {
  for (const [layer, expert] of experts) {
    if (layer < 0 || layer >= opts.config.nLayers || expert < 0 || expert >= opts.config.nExperts)
      throw new RangeError(`${opts.name}: (layer ${layer}, expert ${expert}) is outside the model (${opts.config.nLayers} layers, ${opts.config.nExperts} experts)`);
    into.set(`${layer}:${expert}`, await ExpertBlock.create(expertWeights(opts.weights, layer, expert), opts.compute));
  }
}
