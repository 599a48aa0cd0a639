/**
 * Runs one layer's attention graph over a batch of sequences, each bringing
 * T_b new tokens and its own KV cache (so sequences may sit at different
 * positions): builds RoPE angles and the causal mask, appends the new
 * keys/values to each cache in place, and returns unpadded rows.
 *
 * A batch of one (every single-sequence prefill or decode step) reads its
 * cache's buffers directly (P = the cache's capacity, the mask hides the
 * unused tail): no copy of the cache per step. A larger batch copies each
 * cache's filled part into one padded [B, …, P] tensor (P = longest cache),
 * in scratch memory reused from run to run (model/blocks/scratch.ts).
 */
import * as ort from "onnxruntime-node";
import type { ModelConfig } from "../config.js";
import { buildAttentionGraph, type AttentionWeights } from "../onnx/attention.js";
import { LayerKv, type KvArray } from "./kv-cache.js";
import { ScratchPool, type AttentionScratch } from "./scratch.js";
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
    /** Where batched runs copy their inputs (shared by the blocks of a layer stack). */
    private readonly scratch: ScratchPool,
  ) {}

  /**
   * Build the graph from the layer's weights and open its session. `scratch`: the pool its batched runs
   * borrow their input buffers from; blocks that run one after another share one (a new one when absent).
   */
  static async create(cfg: ModelConfig, weights: AttentionWeights, opts: ComputeOptions = {}, scratch = new ScratchPool()): Promise<AttentionBlock> {
    const kvDtype = opts.kvDtype ?? "f32";
    const s = await createGraphSession(buildAttentionGraph(cfg, weights, linearOptions(opts), kvDtype), opts, "attention");
    releaseBuildBuffers(s.externalBytes);
    return new AttentionBlock(cfg, s.session, kvDtype, s.weights, scratch);
  }

  /** An empty cache of this block's element type. */
  newCache(): LayerKv {
    return new LayerKv(this.cfg.nKvHeads, this.cfg.headDim, this.kvDtype);
  }

  /**
   * Run the batch; appends each item's new K/V to its cache. `step`: the step's RoPE tables and causal
   * mask, shared with the other layers' blocks (a fresh one when absent). A batch of more than one
   * copies its inputs into scratch lent by the block's {@link ScratchPool} for the run (the same memory
   * run after run; every element the graph reads is written, padding with zeros as in a fresh array).
   */
  async run(items: readonly AttentionItem[], step = new StepMemo(this.cfg.headDim, this.cfg.ropeBase)): Promise<AttentionOutput> {
    for (const it of items) it.kv.adopt(this.kvDtype);
    if (items.length === 1) return this.runOn(items, step, undefined);
    return this.scratch.lend((s) => this.runOn(items, step, s));
  }

  /** Run with a lone cache read in place (`s` undefined) or with the batch copied into `s`. */
  private async runOn(items: readonly AttentionItem[], step: StepMemo, s: AttentionScratch | undefined): Promise<AttentionOutput> {
    const { dModel: D, nKvHeads: KVH, headDim: hd } = this.cfg;
    const G = this.cfg.nHeads / KVH;
    const B = items.length;
    const lens = items.map((it) => it.x.length / D);
    const T = Math.max(...lens);
    const f16 = this.kvDtype === "f16";
    // past length P: a lone cache is read in place at its capacity; a batch is copied to the longest
    const P = s ? Math.max(...items.map((it) => it.kv.len)) : items[0]!.kv.len > 0 ? items[0]!.kv.capacity : 0;
    const S = P + T;
    const row = KVH * hd;
    const positions = new Float64Array(B * T);
    let x: Float32Array;
    let pastKt: KvArray;
    let pastV: KvArray;
    if (!s) {
      const kv = items[0]!.kv;
      x = items[0]!.x;
      pastKt = P > 0 ? kv.keysT : f16 ? new Uint16Array(0) : new Float32Array(0);
      pastV = P > 0 ? kv.values : f16 ? new Uint16Array(0) : new Float32Array(0);
    } else {
      x = s.x.f32(B * T * D);
      pastKt = f16 ? s.keys.u16(B * P * row) : s.keys.f32(B * P * row);
      pastV = f16 ? s.values.u16(B * P * row) : s.values.f32(B * P * row);
      for (let b = 0; b < B; b++) {
        const it = items[b]!;
        x.set(it.x, b * T * D);
        if (lens[b]! < T) x.fill(0, b * T * D + it.x.length, (b + 1) * T * D); // padding rows
        it.kv.copyKeysT(pastKt, b * P * row, P, true);
        it.kv.copyValues(pastV, b * P * row, P, true);
      }
    }
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) positions[b * T + t] = items[b]!.kv.len + t;
    const { c, s: sin } = step.tables(positions);
    const mask = step.mask(positions, G, T, P); // [B, 1, G·T, S]
    const out = await this.session.run(B * T, {
      ...this.weights,
      x: f32Tensor(x, [B * T, D]),
      rope_c: f32Tensor(c, [B, T, 1, hd]),
      rope_s: f32Tensor(sin, [B, T, 1, hd]),
      bt_shape: new ort.Tensor("int64", BigInt64Array.of(BigInt(B), BigInt(T), -1n, BigInt(hd)), [4]),
      ps_sizes: new ort.Tensor("int64", BigInt64Array.of(BigInt(P), BigInt(T)), [2]),
      past_kt: kvTensor(this.kvDtype, pastKt, [B, KVH, hd, P]),
      past_v: kvTensor(this.kvDtype, pastV, [B, KVH, P, hd]),
      mask: f32Tensor(mask, [B, 1, G * T, S]),
    });
    // the outputs are onnxruntime's own memory (never a view of an input), fresh in every run
    const hAll = out.h!.data as Float32Array;
    const mAll = out.m!.data as Float32Array;
    const kNew = out.k_new!.data as KvArray; // [B, KVH, hd, T]
    const vNew = out.v_new!.data as KvArray; // [B, KVH, T, hd]
    items.forEach((it, b) => it.kv.append(kNew, vNew, b * row * T, T, lens[b]!));
    if (lens.every((n) => n === T)) return { h: hAll, m: mAll };
    // ragged: drop the padding rows in place (rows only move towards the front)
    let r = 0;
    for (let b = 0; b < B; b++) {
      const n = lens[b]!;
      if (r !== b * T) {
        hAll.copyWithin(r * D, b * T * D, (b * T + n) * D);
        mAll.copyWithin(r * D, b * T * D, (b * T + n) * D);
      }
      r += n;
    }
    return { h: hAll.subarray(0, r * D), m: mAll.subarray(0, r * D) };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
