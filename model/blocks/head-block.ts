/** Runs the final norm + unembedding graph: hidden [R, D] → logits [R, V]. */
import type { ModelConfig } from "../config.js";
import { buildHeadGraph, type HeadWeights } from "../onnx/head.js";
import { createSession, f32Tensor, linearOptions, type ComputeOptions, type InferenceSession } from "./session.js";

export class HeadBlock {
  private constructor(
    private readonly cfg: ModelConfig,
    /** Vocabulary size V (rows of the unembedding). */
    readonly vocabSize: number,
    private readonly session: InferenceSession,
  ) {}

  static async create(cfg: ModelConfig, weights: HeadWeights, opts: ComputeOptions = {}): Promise<HeadBlock> {
    const model = buildHeadGraph(cfg, weights, linearOptions(opts));
    return new HeadBlock(cfg, weights.unembed.out, await createSession(model, opts));
  }

  /** Logits [R, V] of the hidden rows x [R, D]. */
  async run(x: Float32Array): Promise<Float32Array> {
    const R = x.length / this.cfg.dModel;
    const out = await this.session.run({ x: f32Tensor(x, [R, this.cfg.dModel]) });
    return out.logits!.data as Float32Array;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
