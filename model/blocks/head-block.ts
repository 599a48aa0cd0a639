/** Runs the final norm + unembedding graph: hidden [R, D] → logits [R, V]. */
import type { ModelConfig } from "../config.js";
import { buildHeadGraph, type HeadWeights } from "../onnx/head.js";
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

export class HeadBlock {
  private constructor(
    private readonly cfg: ModelConfig,
    /** Vocabulary size V (rows of the unembedding). */
    readonly vocabSize: number,
    private readonly session: BlockSession,
    /** Weights fed as graph inputs (a large f32 unembedding). */
    private readonly weights: Record<string, ort.Tensor>,
  ) {}

  static async create(cfg: ModelConfig, weights: HeadWeights, opts: ComputeOptions = {}): Promise<HeadBlock> {
    const s = await createGraphSession(buildHeadGraph(cfg, weights, linearOptions(opts)), opts, "head");
    releaseBuildBuffers(s.externalBytes);
    return new HeadBlock(cfg, weights.unembed.out, s.session, s.weights);
  }

  /** Logits [R, V] of the hidden rows x [R, D]. */
  async run(x: Float32Array): Promise<Float32Array> {
    return (await this.runWithStats(x)).logits;
  }

  /** Logits [R, V] of the hidden rows x [R, D] and each row's {@link LogitStats}. */
  async runWithStats(x: Float32Array): Promise<HeadOutput> {
    const R = x.length / this.cfg.dModel;
    const out = await this.session.run(R, { x: f32Tensor(x, [R, this.cfg.dModel]), ...this.weights });
    return { logits: out.logits!.data as Float32Array, max: out.max!.data as Float32Array, min: out.min!.data as Float32Array, lse: out.lse!.data as Float32Array };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
