/**
 * The layout of xAI's Grok-1 checkpoint `ckpt-0/` (XAI_CHECKPOINT.md §1–§3): which file holds which
 * parameter (jax flatten order: module names sorted as plain strings, so layers run 0, 1, 10, 11, …),
 * the canonical (GGUF) name each maps to, and whether its matrix is stored transposed.
 */
import { layerTensorNames } from "../accounting.js";

/** The 12 parameters of one decoder layer, in flatten order (slot 0–11). */
export const XAI_LAYER_SLOTS = [
  { path: "moe/linear/w", key: "gate", quantized: true },
  { path: "moe/linear_1/w", key: "down", quantized: true },
  { path: "moe/linear_v/w", key: "up", quantized: true },
  { path: "multi_head_attention/key/w", key: "k", quantized: true },
  { path: "multi_head_attention/linear/w", key: "o", quantized: true },
  { path: "multi_head_attention/query/w", key: "q", quantized: true },
  { path: "multi_head_attention/value/w", key: "v", quantized: true },
  { path: "rms_norm/scale", key: "attnNorm", quantized: false },
  { path: "rms_norm_1/scale", key: "attnOutNorm", quantized: false },
  { path: "rms_norm_2/scale", key: "ffnNorm", quantized: false },
  { path: "rms_norm_3/scale", key: "outNorm", quantized: false },
  { path: "router/w", key: "router", quantized: false },
] as const satisfies readonly { path: string; key: keyof ReturnType<typeof layerTensorNames>; quantized: boolean }[];

/** Leaves before the first layer: the embedding and the final norm. */
export const XAI_GLOBAL_LEAVES = 2;

/** One checkpoint file's parameter. */
export interface XaiLeaf {
  /** Index i of `tensor{i:05d}_000`. */
  readonly index: number;
  /** Leaf path as xAI's `path_tuple_to_string` prints it. */
  readonly path: string;
  /** Canonical tensor name (`blk.N.attn_q.weight`, …). */
  readonly name: string;
  readonly layer?: number;
  /** QuantizedWeight8bit (int8 + bf16 scales) rather than a float32 array. */
  readonly quantized: boolean;
  /** Stored [in, out] (or [E, in, out]): the canonical [out, in] is its transpose. */
  readonly transposed: boolean;
}

/** File name of leaf `index` (process shard 0). */
export function xaiFileName(index: number): string {
  return `tensor${String(index).padStart(5, "0")}_000`;
}

/** Number of leaves of an `nLayers`-layer checkpoint. */
export function xaiLeafCount(nLayers: number): number {
  return XAI_GLOBAL_LEAVES + 12 * nLayers;
}

/**
 * Every leaf of an `nLayers`-layer checkpoint in file order: index 2 + 12·rank(L) + slot, where
 * rank(L) is the position of String(L) among the layer numbers sorted as strings.
 */
export function xaiLeaves(nLayers: number): XaiLeaf[] {
  const out: XaiLeaf[] = [
    { index: 0, path: "params/language_model/in_out_embed/embeddings", name: "token_embd.weight", quantized: false, transposed: false },
    { index: 1, path: "params/language_model/rms_norm/scale", name: "output_norm.weight", quantized: false, transposed: false },
  ];
  const order = Array.from({ length: nLayers }, (_, i) => String(i)).sort();
  order.forEach((l, rank) => {
    const layer = Number(l);
    const names = layerTensorNames(layer);
    XAI_LAYER_SLOTS.forEach((s, slot) => {
      out.push({
        index: XAI_GLOBAL_LEAVES + 12 * rank + slot,
        path: `params/transformer/decoder_layer_${layer}/${s.path}`,
        name: names[s.key],
        layer,
        quantized: s.quantized,
        transposed: s.path.endsWith("/w"),
      });
    });
  });
  return out;
}
