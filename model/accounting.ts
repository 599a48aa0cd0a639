/**
 * Parameter and byte accounting per tensor and per layer, for every storage
 * dtype the planner considers. For the `grok-1` preset it reproduces SPEC.md
 * §2.1/§2.2 exactly.
 */
import type { ModelConfig } from "./config.js";
import type { WeightReader } from "./weights/types.js";

/** Storage schemes the planner can cost. */
export type AccountingDType = "f32" | "bf16" | "f16" | "int8" | "q8_0";
export const ACCOUNTING_DTYPES: readonly AccountingDType[] = ["f32", "bf16", "f16", "int8", "q8_0"];

/** What part of the model a tensor belongs to. */
export type TensorRole = "embedding" | "output" | "final_norm" | "norm" | "attention" | "router" | "expert";

/** One tensor of the model, by canonical (GGUF) name. */
export interface TensorSpec {
  readonly name: string;
  /** Row-major shape: matrices [out, in], stacked experts [expert, out, in]. */
  readonly shape: readonly number[];
  readonly role: TensorRole;
  /** Layer index for per-layer tensors. */
  readonly layer?: number;
  /** xAI "row-parallel" matrix (o-proj, expert down): 8 int8 scale blocks along the input. */
  readonly rowParallel?: boolean;
}

/** Canonical tensor names of layer `i`. */
export function layerTensorNames(i: number) {
  const p = `blk.${i}.`;
  return {
    attnNorm: `${p}attn_norm.weight`,
    q: `${p}attn_q.weight`,
    k: `${p}attn_k.weight`,
    v: `${p}attn_v.weight`,
    o: `${p}attn_output.weight`,
    attnOutNorm: `${p}attn_output_norm.weight`,
    ffnNorm: `${p}ffn_norm.weight`,
    router: `${p}ffn_gate_inp.weight`,
    gate: `${p}ffn_gate_exps.weight`,
    up: `${p}ffn_up_exps.weight`,
    down: `${p}ffn_down_exps.weight`,
    outNorm: `${p}layer_output_norm.weight`,
  } as const;
}

/** Every tensor of a model of this config, in canonical order. */
export function modelTensors(cfg: ModelConfig): TensorSpec[] {
  const D = cfg.dModel;
  const qDim = cfg.nHeads * cfg.headDim;
  const kvDim = cfg.nKvHeads * cfg.headDim;
  const E = cfg.nExperts;
  const F = cfg.ffnDim;
  const out: TensorSpec[] = [{ name: "token_embd.weight", shape: [cfg.vocabSize, D], role: "embedding" }];
  if (!cfg.tiedEmbeddings) out.push({ name: "output.weight", shape: [cfg.vocabSize, D], role: "output" });
  out.push({ name: "output_norm.weight", shape: [D], role: "final_norm" });
  for (let i = 0; i < cfg.nLayers; i++) {
    const n = layerTensorNames(i);
    out.push(
      { name: n.attnNorm, shape: [D], role: "norm", layer: i },
      { name: n.q, shape: [qDim, D], role: "attention", layer: i },
      { name: n.k, shape: [kvDim, D], role: "attention", layer: i },
      { name: n.v, shape: [kvDim, D], role: "attention", layer: i },
      { name: n.o, shape: [D, qDim], role: "attention", layer: i, rowParallel: true },
      { name: n.attnOutNorm, shape: [D], role: "norm", layer: i },
      { name: n.ffnNorm, shape: [D], role: "norm", layer: i },
      { name: n.router, shape: [E, D], role: "router", layer: i },
      { name: n.gate, shape: [E, F, D], role: "expert", layer: i },
      { name: n.up, shape: [E, F, D], role: "expert", layer: i },
      { name: n.down, shape: [E, D, F], role: "expert", layer: i, rowParallel: true },
      { name: n.outNorm, shape: [D], role: "norm", layer: i },
    );
  }
  return out;
}

/** Number of parameters (elements) of a tensor. */
export function paramCount(t: Pick<TensorSpec, "shape">): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

const isMatrix = (t: TensorSpec) => t.role === "embedding" || t.role === "output" || t.role === "attention" || t.role === "expert";

/**
 * Bytes of one tensor stored as `dtype`.
 * - f32 4 B, bf16/f16 2 B per parameter (every tensor).
 * - int8 (xAI checkpoint): matrices int8 + bf16 scales, one per output column
 *   (8 per column for row-parallel matrices); embedding, router, norms f32.
 * - q8_0 (GGUF): matrices in 34-byte blocks of 32 along the input (F16 when the
 *   input width is not a multiple of 32, as converters do); router, norms f32.
 */
export function tensorBytes(t: TensorSpec, dtype: AccountingDType): number {
  const n = paramCount(t);
  switch (dtype) {
    case "f32":
      return 4 * n;
    case "bf16":
    case "f16":
      return 2 * n;
    case "int8": {
      if (!isMatrix(t) || t.role === "embedding" || t.role === "output") return 4 * n;
      const inDim = t.shape[t.shape.length - 1]!;
      const outCols = n / inDim;
      const blocks = t.rowParallel && inDim % 8 === 0 ? 8 : 1;
      return n + 2 * outCols * blocks;
    }
    case "q8_0": {
      if (!isMatrix(t)) return 4 * n;
      const inDim = t.shape[t.shape.length - 1]!;
      return inDim % 32 === 0 ? (n / 32) * 34 : 2 * n;
    }
  }
}

/** Per-layer totals. Expert figures are for ONE expert (all three matrices). */
export interface LayerAccount {
  readonly layer: number;
  readonly attentionParams: number;
  readonly attentionBytes: number;
  readonly routerParams: number;
  readonly routerBytes: number;
  readonly normParams: number;
  readonly normBytes: number;
  readonly expertParams: number;
  readonly expertBytes: number;
  readonly totalParams: number;
  readonly totalBytes: number;
}

/** Whole-model accounting at one dtype. Byte counts in bytes. */
export interface ModelAccount {
  readonly dtype: AccountingDType;
  readonly tensors: readonly (TensorSpec & { params: number; bytes: number })[];
  readonly layers: readonly LayerAccount[];
  readonly embeddingParams: number;
  readonly embeddingBytes: number;
  /** Untied `output.weight` (0 when tied). */
  readonly outputParams: number;
  readonly outputBytes: number;
  readonly finalNormBytes: number;
  readonly totalParams: number;
  readonly totalBytes: number;
  /** Parameters touched per token: attention, router, norms, top-k experts of all layers, embedding (+ output). */
  readonly activeParamsPerToken: number;
}

/** Account every tensor of `cfg` stored as `dtype`. */
export function accountModel(cfg: ModelConfig, dtype: AccountingDType): ModelAccount {
  const tensors = modelTensors(cfg).map((t) => ({ ...t, params: paramCount(t), bytes: tensorBytes(t, dtype) }));
  const layers: LayerAccount[] = [];
  for (let i = 0; i < cfg.nLayers; i++) {
    const acc = { attentionParams: 0, attentionBytes: 0, routerParams: 0, routerBytes: 0, normParams: 0, normBytes: 0, expertParams: 0, expertBytes: 0 };
    for (const t of tensors) {
      if (t.layer !== i) continue;
      if (t.role === "attention") (acc.attentionParams += t.params), (acc.attentionBytes += t.bytes);
      else if (t.role === "router") (acc.routerParams += t.params), (acc.routerBytes += t.bytes);
      else if (t.role === "norm") (acc.normParams += t.params), (acc.normBytes += t.bytes);
      else if (t.role === "expert") (acc.expertParams += t.params / cfg.nExperts), (acc.expertBytes += t.bytes / cfg.nExperts);
    }
    layers.push({
      layer: i,
      ...acc,
      totalParams: acc.attentionParams + acc.routerParams + acc.normParams + acc.expertParams * cfg.nExperts,
      totalBytes: acc.attentionBytes + acc.routerBytes + acc.normBytes + acc.expertBytes * cfg.nExperts,
    });
  }
  const sum = (role: TensorRole, key: "params" | "bytes") => tensors.filter((t) => t.role === role).reduce((a, t) => a + t[key], 0);
  const totalParams = tensors.reduce((a, t) => a + t.params, 0);
  const totalBytes = tensors.reduce((a, t) => a + t.bytes, 0);
  const active =
    layers.reduce((a, l) => a + l.attentionParams + l.routerParams + l.normParams + l.expertParams * cfg.nExpertsUsed, 0) +
    sum("embedding", "params") +
    sum("output", "params") +
    sum("final_norm", "params");
  return {
    dtype,
    tensors,
    layers,
    embeddingParams: sum("embedding", "params"),
    embeddingBytes: sum("embedding", "bytes"),
    outputParams: sum("output", "params"),
    outputBytes: sum("output", "bytes"),
    finalNormBytes: sum("final_norm", "bytes"),
    totalParams,
    totalBytes,
    activeParamsPerToken: active,
  };
}

/** KV-cache bytes per token per sequence: 2 × layers × kv_heads × head_dim × bytesPerElement. */
export function kvBytesPerToken(cfg: ModelConfig, bytesPerElement = 2, layers = cfg.nLayers): number {
  return 2 * layers * cfg.nKvHeads * cfg.headDim * bytesPerElement;
}

/** FLOPs per token of one layer's attention projections (2·params) plus scores over `context` keys. */
export function attentionFlopsPerToken(cfg: ModelConfig, context: number): number {
  const qDim = cfg.nHeads * cfg.headDim;
  const kvDim = cfg.nKvHeads * cfg.headDim;
  const proj = 2 * cfg.dModel * (2 * qDim + 2 * kvDim);
  const scores = 2 * 2 * cfg.nHeads * cfg.headDim * context;
  return proj + scores;
}

/** FLOPs per token through one expert (three matrices). */
export function expertFlopsPerToken(cfg: ModelConfig): number {
  return 2 * 3 * cfg.dModel * cfg.ffnDim;
}

/**
 * The dtype a model file stores its weights in, for accounting: that of its expert matrices (the
 * bulk of a Grok model): Q8_0 → q8_0, F16 → f16, BF16 → bf16, F32 → f32; xAI's int8 checkpoint → int8.
 */
export function weightDTypeOf(weights: WeightReader): AccountingDType {
  if (weights.metadata.has("xai.leaves")) return "int8";
  const t = weights.find(layerTensorNames(0).gate);
  return t?.dtype === "Q8_0" ? "q8_0" : t?.dtype === "F16" ? "f16" : t?.dtype === "BF16" ? "bf16" : "f32";
}
