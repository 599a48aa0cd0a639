/** Runs one (layer, expert) FFN graph: rows [R, D] in, [R, D] out. */
import { buildExpertGraph, type ExpertWeights } from "../onnx/expert.js";
import type * as ort from "onnxruntime-node";
import { createGraphSession, f32Tensor, releaseBuildBuffers, linearOptions, type ComputeOptions, type BlockSession } from "./session.js";

export class ExpertBlock {
  private constructor(
    /** Model width D. */
    readonly dModel: number,
    private readonly session: BlockSession,
    /** Weights fed as graph inputs (large f32 matrices). */
    private readonly weights: Record<string, ort.Tensor>,
  ) {}

  static async create(weights: ExpertWeights, opts: ComputeOptions = {}): Promise<ExpertBlock> {
    const s = await createGraphSession(buildExpertGraph(weights, linearOptions(opts)), opts, "expert");
    releaseBuildBuffers(s.externalBytes);
    return new ExpertBlock(weights.gate.in, s.session, s.weights);
  }

  /** y = expert(x); x is [R, D] row-major (R = x.length / D). */
  async run(x: Float32Array): Promise<Float32Array> {
    const R = x.length / this.dModel;
    const out = await this.session.run(R, { x: f32Tensor(x, [R, this.dModel]), ...this.weights });
    return out.y!.data as Float32Array;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
