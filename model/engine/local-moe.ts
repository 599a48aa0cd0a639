/**
 * In-process MoE: router gating (plain TS, f32) + expert FFN sessions +
 * combine — the same gating/combine functions the distributed router uses.
 * By default ({@link expertSessionsOf}: "layer") each layer's experts are one session
 * ({@link ExpertLayerBlock}; several where they pass {@link LAYER_SESSION_MAX_BYTES}), run once per layer per step; with "expert", one session per expert, run
 * once per routed expert. With {@link ComputeOptions.expertWorkers} > 1 the experts (one session
 * each) are split over the calling thread and worker threads ({@link ExpertWorkers}) and a layer's
 * expert groups run concurrently. All three give bit-identical results.
 */
import type { ModelConfig } from "../config.js";
import { ExpertBlock } from "../blocks/expert-block.js";
import { buildLayerSessions, expertSessionsOf, type ExpertLayerBlock } from "../blocks/expert-layer-block.js";
import { expertWeights, routerWeights } from "../blocks/load-weights.js";
import type { ComputeOptions } from "../blocks/session.js";
import { combine, gatherRows, groupByExpert, routeRows } from "../gating.js";
import type { WeightReader } from "../weights/types.js";
import { ExpertWorkers, type WorkerJob } from "./expert-workers.js";
import type { MoeExecutor } from "./layer-stack.js";

export class LocalMoe implements MoeExecutor {
  /** Tokens routed to each (layer, expert) so far: counts[layer][expert]. */
  readonly counts: number[][];
  /** Rows run by worker threads so far (the rest ran on the calling thread). */
  workerRows = 0;

  private constructor(
    private readonly cfg: ModelConfig,
    private readonly routers: Map<number, Float32Array>,
    /** Per layer, per expert: the block, or undefined where a worker holds it. */
    private readonly experts: Map<number, (ExpertBlock | undefined)[]>,
    /** Per layer: the session(s) of its experts (layer mode; `experts` is then empty): one, unless the layer's experts pass {@link LAYER_SESSION_MAX_BYTES}. */
    private readonly layers: Map<number, ExpertLayerBlock[]>,
    private readonly workers?: ExpertWorkers,
  ) {
    this.counts = Array.from({ length: cfg.nLayers }, () => new Array<number>(cfg.nExperts).fill(0));
  }

  /** Load the routers and every expert of layers [first, end). */
  static async create(cfg: ModelConfig, reader: WeightReader, first: number, end: number, opts: ComputeOptions = {}): Promise<LocalMoe> {
    const shares = Math.min(opts.expertWorkers ?? 1, cfg.nExperts);
    const routers = new Map<number, Float32Array>();
    const experts = new Map<number, (ExpertBlock | undefined)[]>();
    // with workers every expert session is one-thread: the parallelism is across experts
    const expertOpts: ComputeOptions = shares > 1 ? { ...opts, threads: 1, blockThreads: {}, expertWorkers: 0 } : opts;
    const workers = shares > 1 ? ExpertWorkers.start(shares, expertOpts) : undefined;
    const layers = new Map<number, ExpertLayerBlock[]>();
    const layerMode = !workers && expertSessionsOf(opts) === "layer";
    try {
      for (let l = first; l < end; l++) {
        routers.set(l, routerWeights(reader, cfg, l).router);
        if (layerMode) {
          const all = Array.from({ length: cfg.nExperts }, (_, e) => e);
          layers.set(l, await buildLayerSessions(all, (e) => expertWeights(reader, l, e), opts));
          continue;
        }
        const blocks: (ExpertBlock | undefined)[] = [];
        const loads: Promise<void>[] = [];
        for (let e = 0; e < cfg.nExperts; e++) {
          const share = workers?.owner(e) ?? 0;
          if (share === 0) blocks.push(await ExpertBlock.create(expertWeights(reader, l, e), expertOpts));
          else {
            blocks.push(undefined);
            loads.push(workers!.load(share, l, e, expertWeights(reader, l, e)));
          }
        }
        experts.set(l, blocks);
        await Promise.all(loads);
      }
    } catch (e) {
      for (const blocks of experts.values()) for (const b of blocks) await b?.close();
      for (const bs of layers.values()) for (const b of bs) await b.close();
      await workers?.close();
      throw e;
    }
    return new LocalMoe(cfg, routers, experts, layers, workers);
  }

  /** Expert worker threads running now (0 without {@link ComputeOptions.expertWorkers}, and after close). */
  get workerThreads(): number {
    return this.workers?.running ?? 0;
  }

  async run(layer: number, m: Float32Array): Promise<Float32Array> {
    const D = this.cfg.dModel;
    const routing = routeRows(m, this.routers.get(layer)!, this.cfg.nExperts, this.cfg.nExpertsUsed);
    const groups = groupByExpert(routing, this.cfg.nExperts);
    const outputs = new Map<number, Float32Array>();
    const blocks = this.experts.get(layer)!;
    for (const g of groups) this.counts[layer]![g.expert]! += g.rows.length;
    const fused = this.layers.get(layer);
    if (fused) {
      for (const b of fused) {
        const mine = groups.filter((g) => b.holds(g.expert));
        if (mine.length) for (const [e, y] of await b.runPerExpert(m, { experts: mine.map((g) => g.expert), rows: mine.map((g) => g.rows) })) outputs.set(e, y);
      }
      return combine(routing, groups, outputs, D);
    }
    const workers = this.workers;
    if (!workers) {
      for (const g of groups) outputs.set(g.expert, await blocks[g.expert]!.run(gatherRows(m, D, g.rows)));
      return combine(routing, groups, outputs, D);
    }
    // post every worker its groups first, then run this thread's own, then collect
    const jobs = new Map<number, WorkerJob[]>();
    for (const g of groups) {
      const share = workers.owner(g.expert);
      if (share === 0) continue;
      let list = jobs.get(share);
      if (!list) jobs.set(share, (list = []));
      list.push({ expert: g.expert, x: gatherRows(m, D, g.rows) });
      this.workerRows += g.rows.length;
    }
    const remote = [...jobs].map(async ([share, list]) => {
      const experts = list.map((j) => j.expert);
      const outs = await workers.run(share, layer, list);
      experts.forEach((e, i) => outputs.set(e, outs[i]!));
    });
    // a failure here must not leave a worker's rejection unobserved
    const settled = Promise.allSettled(remote);
    try {
      for (const g of groups) if (workers.owner(g.expert) === 0) outputs.set(g.expert, await blocks[g.expert]!.run(gatherRows(m, D, g.rows)));
    } finally {
      for (const r of await settled) if (r.status === "rejected") throw r.reason;
    }
    return combine(routing, groups, outputs, D);
  }

  /** Whether each layer's experts run as one session ({@link ComputeOptions.expertSessions} "layer"). */
  get layerSessions(): boolean {
    return this.layers.size > 0;
  }

  async close(): Promise<void> {
    for (const bs of this.layers.values()) for (const b of bs) await b.close();
    this.layers.clear();
    for (const blocks of this.experts.values()) for (const b of blocks) await b?.close();
    await this.workers?.close();
  }
}
