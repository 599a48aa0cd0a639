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

/** Rows of logits per run of the statistics graph: bounds its arena to a few V-wide rows. */
export const STATS_ROWS = 8;

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
      // one thread: waking a pool for a few hundred µs of reductions costs more than it saves, and each row's
      // reductions are its own whatever the threads (the same values as the fused graph on any thread count, tested).
      // An arena: the intermediates (Sub, Exp: V floats per row) are reused run after run instead of
      // allocated afresh (0.7 → 0.2 ms per decode step at V = 131072); bounded by STATS_ROWS rows a run
      const statsOpts: ComputeOptions = { ...opts, threads: 1, blockThreads: {}, memArena: true };
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
    const V = this.vocabSize;
    // runs of at most STATS_ROWS rows; each row's statistics are its own (one row's reduction never spans
    // runs): chunks change no value
    const max = new Float32Array(R);
    const min = new Float32Array(R);
    const lse = new Float32Array(R);
    for (let r = 0; r < R; r += STATS_ROWS) {
      const n = Math.min(STATS_ROWS, R - r);
      const out = await this.stats.run(n, { logits: f32Tensor(logits.subarray(r * V, (r + n) * V), [n, V]) });
      max.set(out.max!.data as Float32Array, r);
      min.set(out.min!.data as Float32Array, r);
      lse.set(out.lse!.data as Float32Array, r);
    }
    return { logits, max, min, lse };
  }

  async close(): Promise<void> {
    await this.session.release();
    await this.stats.release();
  }
}
