/**
 * In-process MoE: router gating (plain TS, f32) + expert FFN sessions +
 * combine — the same gating/combine functions the distributed router uses.
 */
import type { ModelConfig } from "../config.js";
import { ExpertBlock } from "../blocks/expert-block.js";
import { expertWeights, routerWeights } from "../blocks/load-weights.js";
import type { ComputeOptions } from "../blocks/session.js";
import { combine, gatherRows, groupByExpert, routeRows } from "../gating.js";
import type { WeightReader } from "../weights/types.js";
import type { MoeExecutor } from "./layer-stack.js";

export class LocalMoe implements MoeExecutor {
  /** Tokens routed to each (layer, expert) so far: counts[layer][expert]. */
  readonly counts: number[][];

  private constructor(
    private readonly cfg: ModelConfig,
    private readonly routers: Map<number, Float32Array>,
    private readonly experts: Map<number, ExpertBlock[]>,
  ) {
    this.counts = Array.from({ length: cfg.nLayers }, () => new Array<number>(cfg.nExperts).fill(0));
  }

  /** Load the routers and every expert of layers [first, end). */
  static async create(cfg: ModelConfig, reader: WeightReader, first: number, end: number, opts: ComputeOptions = {}): Promise<LocalMoe> {
    const routers = new Map<number, Float32Array>();
    const experts = new Map<number, ExpertBlock[]>();
    for (let l = first; l < end; l++) {
      routers.set(l, routerWeights(reader, cfg, l).router);
      const blocks: ExpertBlock[] = [];
      for (let e = 0; e < cfg.nExperts; e++) blocks.push(await ExpertBlock.create(expertWeights(reader, l, e), opts));
      experts.set(l, blocks);
    }
    return new LocalMoe(cfg, routers, experts);
  }

  async run(layer: number, m: Float32Array): Promise<Float32Array> {
    const D = this.cfg.dModel;
    const routing = routeRows(m, this.routers.get(layer)!, this.cfg.nExperts, this.cfg.nExpertsUsed);
    const groups = groupByExpert(routing, this.cfg.nExperts);
    const outputs = new Map<number, Float32Array>();
    const blocks = this.experts.get(layer)!;
    for (const g of groups) {
      this.counts[layer]![g.expert]! += g.rows.length;
      outputs.set(g.expert, await blocks[g.expert]!.run(gatherRows(m, D, g.rows)));
    }
    return combine(routing, groups, outputs, D);
  }

  async close(): Promise<void> {
    for (const blocks of this.experts.values()) for (const b of blocks) await b.close();
  }
}
