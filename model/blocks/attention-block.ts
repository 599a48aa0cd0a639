/**
 * Runs one layer's attention graph over a batch of sequences, each bringing
 * T_b new tokens and its own KV cache (so sequences may sit at different
 * positions): builds RoPE angles and the causal mask, appends the new
 * keys/values to each cache in place, and returns unpadded rows.
 *
 * A batch of one (every single-sequence prefill or decode step) reads its
 * cache's buffers directly (P = the cache's capacity, the mask hides the
 * unused tail): no copy of the cache per step. A larger batch copies each
 * cache's filled part into one padded [B, …, P] tensor (P = longest cache).
 */
import * as ort from "onnxruntime-node";
import type { ModelConfig } from "../config.js";
import { buildAttentionGraph, type AttentionWeights } from "../onnx/attention.js";
import { LayerKv, type KvArray } from "./kv-cache.js";
import { StepMemo } from "./step-memo.js";
import { createGraphSession, f32Tensor, releaseBuildBuffers, linearOptions, type ComputeOptions, type BlockSession, type KvDtype } from "./session.js";

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


function kvTensor(dtype: KvDtype, data: KvArray, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor(dtype === "f16" ? "float16" : "float32", data, dims as number[]);
}

export class AttentionBlock {
  private constructor(
    private readonly cfg: ModelConfig,
    private readonly session: BlockSession,
    /** Element type of the caches this block reads and writes. */
    readonly kvDtype: KvDtype,
    /** Weights fed as graph inputs (large f32 matrices). */
    private readonly weights: Record<string, ort.Tensor>,
  ) {}

  /** Build the graph from the layer's weights and open its session. */
  static async create(cfg: ModelConfig, weights: AttentionWeights, opts: ComputeOptions = {}): Promise<AttentionBlock> {
    const kvDtype = opts.kvDtype ?? "f32";
    const s = await createGraphSession(buildAttentionGraph(cfg, weights, linearOptions(opts), kvDtype), opts, "attention");
    releaseBuildBuffers(s.externalBytes);
    return new AttentionBlock(cfg, s.session, kvDtype, s.weights);
  }

  /** An empty cache of this block's element type. */
  newCache(): LayerKv {
    return new LayerKv(this.cfg.nKvHeads, this.cfg.headDim, this.kvDtype);
  }

  /**
   * Run the batch; appends each item's new K/V to its cache. `step`: the step's RoPE tables and causal
   * mask, shared with the other layers' blocks (a fresh one when absent).
   */
  async run(items: readonly AttentionItem[], step = new StepMemo(this.cfg.headDim, this.cfg.ropeBase)): Promise<AttentionOutput> {
    const { dModel: D, nKvHeads: KVH, headDim: hd } = this.cfg;
    const G = this.cfg.nHeads / KVH;
    for (const it of items) it.kv.adopt(this.kvDtype);
    const B = items.length;
    const lens = items.map((it) => it.x.length / D);
    const T = Math.max(...lens);
    const single = B === 1;
    // past length P: a lone cache is read in place at its capacity; a batch is copied to the longest
    const P = single ? (items[0]!.kv.len > 0 ? items[0]!.kv.capacity : 0) : Math.max(...items.map((it) => it.kv.len));
    const S = P + T;
    const row = KVH * hd;
    const x = single ? items[0]!.x : new Float32Array(B * T * D);
    const positions = new Float64Array(B * T);
    let pastKt: KvArray;
    let pastV: KvArray;
    if (single) {
      pastKt = P > 0 ? items[0]!.kv.keysT : new Float32Array(0);
      pastV = P > 0 ? items[0]!.kv.values : new Float32Array(0);
      if (P === 0 && this.kvDtype === "f16") (pastKt = new Uint16Array(0)), (pastV = new Uint16Array(0));
    } else {
      pastKt = this.kvDtype === "f16" ? new Uint16Array(B * P * row) : new Float32Array(B * P * row);
      pastV = this.kvDtype === "f16" ? new Uint16Array(B * P * row) : new Float32Array(B * P * row);
    }
    for (let b = 0; b < B; b++) {
      const it = items[b]!;
      const len = it.kv.len;
      if (!single) {
        x.set(it.x, b * T * D);
        it.kv.copyKeysT(pastKt, b * P * row, P);
        it.kv.copyValues(pastV, b * P * row, P);
      }
      for (let t = 0; t < T; t++) positions[b * T + t] = len + t;
    }
    const { c, s } = step.tables(positions);
    const mask = step.mask(positions, G, T, P); // [B, 1, G·T, S]
    const out = await this.session.run(B * T, {
      ...this.weights,
      x: f32Tensor(x, [B * T, D]),
      rope_c: f32Tensor(c, [B, T, 1, hd]),
      rope_s: f32Tensor(s, [B, T, 1, hd]),
      bt_shape: new ort.Tensor("int64", BigInt64Array.of(BigInt(B), BigInt(T), -1n, BigInt(hd)), [4]),
      ps_sizes: new ort.Tensor("int64", BigInt64Array.of(BigInt(P), BigInt(T)), [2]),
      past_kt: kvTensor(this.kvDtype, pastKt, [B, KVH, hd, P]),
      past_v: kvTensor(this.kvDtype, pastV, [B, KVH, P, hd]),
      mask: f32Tensor(mask, [B, 1, G * T, S]),
    });
    const hAll = out.h!.data as Float32Array;
    const mAll = out.m!.data as Float32Array;
    const kNew = out.k_new!.data as KvArray; // [B, KVH, hd, T]
    const vNew = out.v_new!.data as KvArray; // [B, KVH, T, hd]
    items.forEach((it, b) => it.kv.append(kNew, vNew, b * row * T, T, lens[b]!));
    if (lens.every((n) => n === T)) return { h: hAll, m: mAll };
    const N = lens.reduce((a, b) => a + b, 0);
    const h = new Float32Array(N * D);
    const m = new Float32Array(N * D);
    let r = 0;
    for (let b = 0; b < B; b++) {
      const n = lens[b]!;
      h.set(hAll.subarray(b * T * D, (b * T + n) * D), r * D);
      m.set(mAll.subarray(b * T * D, (b * T + n) * D), r * D);
      r += n;
    }
    return { h, m };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
