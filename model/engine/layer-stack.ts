/**
 * A contiguous range of decoder layers [first, end): attention blocks (ONNX),
 * the MoE step delegated to a {@link MoeExecutor} (in-process experts here,
 * the router service on a stage host), and the post-MoE norm + residual.
 * The single-process engine runs all layers in one stack; a stage host runs its range.
 */
import type { ModelConfig } from "../config.js";
import { layerTensorNames } from "../accounting.js";
import { AttentionBlock } from "../blocks/attention-block.js";
import { LayerKv } from "../blocks/kv-cache.js";
import { attentionWeights, vectorWeight } from "../blocks/load-weights.js";
import { addNormedResidual } from "../blocks/residual.js";
import { ScratchPool } from "../blocks/scratch.js";
import { StepMemo } from "../blocks/step-memo.js";
import type { ComputeOptions } from "../blocks/session.js";
import type { WeightReader } from "../weights/types.js";

/** Computes the combined MoE output y [N, D] of `layer` for the pre-MoE normed rows m [N, D]. */
export interface MoeExecutor {
  run(layer: number, m: Float32Array): Promise<Float32Array>;
}

/** One sequence's share of a forward batch through a stack. */
export interface StackItem {
  /** The sequence's caches, one per layer of the stack (index = layer − first). */
  readonly kv: readonly LayerKv[];
  /** Residual rows of its new tokens [T_b, D]. */
  readonly x: Float32Array;
}

export class LayerStack {
  private constructor(
    readonly cfg: ModelConfig,
    readonly first: number,
    readonly end: number,
    private readonly attention: AttentionBlock[],
    private readonly outNorms: Float32Array[],
    private readonly scratch: ScratchPool,
  ) {}

  /** Load layers [first, end) from `reader`. */
  static async create(cfg: ModelConfig, reader: WeightReader, first: number, end: number, opts: ComputeOptions = {}): Promise<LayerStack> {
    if (!(0 <= first && first < end && end <= cfg.nLayers)) throw new RangeError(`layer range [${first}, ${end}) is outside [0, ${cfg.nLayers})`);
    const attention: AttentionBlock[] = [];
    const outNorms: Float32Array[] = [];
    // one pool for every layer: a forward runs its layers one after another (a set per forward in flight)
    const scratch = new ScratchPool();
    for (let l = first; l < end; l++) {
      attention.push(await AttentionBlock.create(cfg, attentionWeights(reader, cfg, l), opts, scratch));
      outNorms.push(vectorWeight(reader, layerTensorNames(l).outNorm, cfg.dModel));
    }
    return new LayerStack(cfg, first, end, attention, outNorms, scratch);
  }

  /** Fresh per-layer caches for one sequence. */
  newCaches(): LayerKv[] {
    return this.attention.map(() => new LayerKv(this.cfg.nKvHeads, this.cfg.headDim));
  }

  /**
   * Forward the batch through every layer; returns the residual rows [N, D] in item order. The layers share
   * `step` (the step's positions are the same in every layer: RoPE tables and causal mask computed once per step).
   */
  async forward(items: readonly StackItem[], moe: MoeExecutor, step = new StepMemo(this.cfg.headDim, this.cfg.ropeBase)): Promise<Float32Array> {
    let xs = items.map((it) => it.x);
    let out: Float32Array = new Float32Array(0);
    for (let i = 0; i < this.attention.length; i++) {
      const { h, m } = await this.attention[i]!.run(
        items.map((it, b) => ({ kv: it.kv[i]!, x: xs[b]! })),
        step,
      );
      const y = await moe.run(this.first + i, m);
      addNormedResidual(h, y, this.outNorms[i]!, this.cfg.rmsEps);
      out = h;
      xs = splitRows(h, xs.map((x) => x.length));
    }
    return out;
  }

  /** Free the batch scratch not in use (when no sequence is live: the next batch allocates it anew). */
  trimScratch(): void {
    this.scratch.trim();
  }

  async close(): Promise<void> {
    this.scratch.trim();
    for (const a of this.attention) await a.close();
  }
}

/** Split a flat array into consecutive views of the given lengths. */
function splitRows(flat: Float32Array, lengths: readonly number[]): Float32Array[] {
  const out: Float32Array[] = [];
  let o = 0;
  for (const n of lengths) {
    out.push(flat.subarray(o, o + n));
    o += n;
  }
  return out;
}
