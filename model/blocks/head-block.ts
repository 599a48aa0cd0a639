/** Runs the final norm + unembedding graph: hidden [R, D] → logits [R, V], and the logits' statistics on demand. */
import type { ModelConfig } from "../config.js";
import { buildHeadGraph, buildLogitStatsGraph, type HeadWeights } from "../onnx/head.js";
import type * as ort from "onnxruntime-node";
import { createGraphSession, f32Tensor, releaseBuildBuffers, linearOptions, type ComputeOptions, type BlockSession } from "./session.js";

/** What the head computes for R rows. */
export interface HeadOutput {
  /** [R, V]. */
  readonly logits: Float32Array;
  /** Per row [R]: largest and smallest logit, and log Σ exp(logits) (f32). */
  readonly max: Float32Array;
  readonly min: Float32Array;
  readonly lse: Float32Array;
}

/**
 * The head graph outputs the logits only; their statistics (max, min, log-sum-exp: what sampling
 * reads) come from a second, weightless graph run on those logits ({@link runWithStats}), so that a
 * step that only returns logits does not compute them (onnxruntime runs every node of a graph,
 * whatever a run fetches: ~0.2 ms per row at V = 131072). The values are those of one fused graph, bit for bit.
 */
export class HeadBlock {
  private constructor(
    private readonly cfg: ModelConfig,
    /** Vocabulary size V (rows of the unembedding). */
    readonly vocabSize: number,
    private readonly session: BlockSession,
    private readonly stats: BlockSession,
    /** Weights fed as graph inputs (a large f32 unembedding). */
    private readonly weights: Record<string, ort.Tensor>,
  ) {}

  static async create(cfg: ModelConfig, weights: HeadWeights, opts: ComputeOptions = {}): Promise<HeadBlock> {
    const s = await createGraphSession(buildHeadGraph(cfg, weights, linearOptions(opts), false), opts, "head");
    releaseBuildBuffers(s.externalBytes);
    try {
      // the same threads as the head's session for every row count, as when the statistics were part of its graph
      const statsOpts: ComputeOptions = s.session.hasSingleThread ? opts : { ...opts, singleThreadRows: 0 };
      const stats = await createGraphSession(buildLogitStatsGraph(weights.unembed.out), statsOpts, "head");
      return new HeadBlock(cfg, weights.unembed.out, s.session, stats.session, s.weights);
    } catch (e) {
      await s.session.release();
      throw e;
    }
  }

  /** Logits [R, V] of the hidden rows x [R, D]. */
  async run(x: Float32Array): Promise<Float32Array> {
    const R = x.length / this.cfg.dModel;
    const out = await this.session.run(R, { x: f32Tensor(x, [R, this.cfg.dModel]), ...this.weights });
    return out.logits!.data as Float32Array;
  }

  /** Logits [R, V] of the hidden rows x [R, D] and each row's max, min and log-sum-exp. */
  async runWithStats(x: Float32Array): Promise<HeadOutput> {
    const logits = await this.run(x);
    const R = x.length / this.cfg.dModel;
    const out = await this.stats.run(R, { logits: f32Tensor(logits, [R, this.vocabSize]) });
    return { logits, max: out.max!.data as Float32Array, min: out.min!.data as Float32Array, lse: out.lse!.data as Float32Array };
  }

  async close(): Promise<void> {
    await this.session.release();
    await this.stats.release();
  }
}
