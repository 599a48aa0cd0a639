/**
 * Runs one layer's attention graph over a batch of sequences, each bringing
 * T_b new tokens and its own KV cache (so sequences may sit at different
 * positions): pads to [B, max T_b], builds RoPE angles and the causal mask,
 * appends the new keys/values to each cache, and returns unpadded rows.
 */
import type { ModelConfig } from "../config.js";
import { buildAttentionGraph, type AttentionWeights } from "../onnx/attention.js";
import type { LayerKv } from "./kv-cache.js";
import { ropeTables } from "./rope.js";
import { createSession, f32Tensor, linearOptions, type ComputeOptions, type InferenceSession } from "./session.js";

/** One sequence's share of an attention batch. */
export interface AttentionItem {
  /** This sequence's cache for this layer; new tokens sit at positions kv.len, kv.len+1, ... */
  readonly kv: LayerKv;
  /** New tokens' residual rows [T_b, D]. */
  readonly x: Float32Array;
}

/** Rows out of the block, concatenated in item order: [N, D] with N = Σ T_b. */
export interface AttentionOutput {
  /** Residual after attention. */
  readonly h: Float32Array;
  /** Pre-MoE normed rows (router and expert input). */
  readonly m: Float32Array;
}

const MASKED = -1e30;

export class AttentionBlock {
  private constructor(
    private readonly cfg: ModelConfig,
    private readonly session: InferenceSession,
  ) {}

  /** Build the graph from the layer's weights and open its session. */
  static async create(cfg: ModelConfig, weights: AttentionWeights, opts: ComputeOptions = {}): Promise<AttentionBlock> {
    const model = buildAttentionGraph(cfg, weights, linearOptions(opts));
    return new AttentionBlock(cfg, await createSession(model, opts));
  }

  /** Run the batch; appends each item's new K/V to its cache. */
  async run(items: readonly AttentionItem[]): Promise<AttentionOutput> {
    const { dModel: D, nKvHeads: KVH, headDim: hd } = this.cfg;
    const row = KVH * hd;
    const B = items.length;
    const lens = items.map((it) => it.x.length / D);
    const T = Math.max(...lens);
    const P = Math.max(...items.map((it) => it.kv.len));
    const S = P + T;
    const x = new Float32Array(B * T * D);
    const positions = new Float64Array(B * T);
    const pastKt = new Float32Array(B * P * row); // [B, KVH, hd, P]
    const pastV = new Float32Array(B * P * row); // [B, KVH, P, hd]
    const mask = new Float32Array(B * T * S).fill(MASKED);
    for (let b = 0; b < B; b++) {
      const it = items[b]!;
      const len = it.kv.len;
      x.set(it.x, b * T * D);
      it.kv.copyKeysT(pastKt, b * P * row, P);
      it.kv.copyValues(pastV, b * P * row, P);
      for (let t = 0; t < T; t++) {
        positions[b * T + t] = len + t;
        const m0 = (b * T + t) * S;
        mask.fill(0, m0, m0 + len);
        mask.fill(0, m0 + P, m0 + P + t + 1);
      }
    }
    const { cos, sin } = ropeTables(positions, hd, this.cfg.ropeBase);
    const out = await this.session.run({
      x: f32Tensor(x, [B, T, D]),
      cos: f32Tensor(cos, [B, T, hd / 2]),
      sin: f32Tensor(sin, [B, T, hd / 2]),
      past_kt: f32Tensor(pastKt, [B, KVH, hd, P]),
      past_v: f32Tensor(pastV, [B, KVH, P, hd]),
      mask: f32Tensor(mask, [B, 1, T, S]),
    });
    const hAll = out.h!.data as Float32Array;
    const mAll = out.m!.data as Float32Array;
    const kNew = out.k_new!.data as Float32Array;
    const vNew = out.v_new!.data as Float32Array;
    const N = lens.reduce((a, b) => a + b, 0);
    const h = new Float32Array(N * D);
    const m = new Float32Array(N * D);
    let r = 0;
    for (let b = 0; b < B; b++) {
      const n = lens[b]!;
      h.set(hAll.subarray(b * T * D, (b * T + n) * D), r * D);
      m.set(mAll.subarray(b * T * D, (b * T + n) * D), r * D);
      items[b]!.kv.append(kNew, vNew, b * T * row, n);
      r += n;
    }
    return { h, m };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
