/**
 * The attention block of one decoder layer as an ONNX graph, with its norms
 * and residual, over a padded batch of sequences that may sit at different
 * positions (prefill and decode alike):
 *
 *   a = rms(x)·attn_norm;  q,k,v = Wq a, Wk a, Wv a;  RoPE(q, k)
 *   s = softcap([q·K_pastᵀ , q·kᵀ] · attnScale) + mask;  p = softmax(s)
 *   o = Wo (p_past·V_past + p_new·v)                          (per sequence)
 *   h = x + rms(o)·attn_output_norm;   m = rms(h)·ffn_norm   (router/expert input)
 *
 * The cached keys and values are read where they are, in the layout the
 * matmuls want (keys transposed): the graph never concatenates or transposes
 * the cache, so a batch of one reads its cache's own buffers (no copy; P is
 * then the cache's capacity and the mask hides the unused tail), and the new
 * keys/values come out in the cache's layout, ready to append.
 * Q, K and V are one matmul ([H·hd + 2·KVH·hd, D] stacked weights).
 *
 * With an f16 cache (`kvDtype: "f16"`), past_kt/past_v/k_new/v_new are float16
 * and the new keys/values are rounded to f16 before the new tokens attend to
 * them, so a prompt gives the same numbers in one piece as token by token.
 *
 * Inputs  x [B,T,D], cos/sin [B,T,hd/2] (RoPE angles of each new token),
 *         past_kt [B,KVH,hd,P] (rotated keys, transposed), past_v [B,KVH,P,hd],
 *         mask [B,1,G·T,P+T] (0 = visible, -1e30 = hidden; past columns first; rows j·T + t:
 *         the [T, P+T] mask of the new tokens repeated for each of the G = H/KVH query heads of a group).
 * Outputs h [B,T,D], m [B,T,D], k_new [B,KVH,hd,T] (rotated keys, transposed),
 *         v_new [B,KVH,T,hd].
 */
import type { ModelConfig } from "../config.js";
import { Elem, GraphBuilder, type BuiltGraph } from "./builder.js";
import { concatRows, linear, linearShared, splitLast, stacksShared, type LinearOptions, type LinearWeight } from "./linear.js";
import { rmsNorm, softcap } from "./ops.js";

/** Weights of one layer's attention block. Norm gains are [D]. */
export interface AttentionWeights {
  readonly attnNorm: Float32Array;
  readonly q: LinearWeight;
  readonly k: LinearWeight;
  readonly v: LinearWeight;
  readonly o: LinearWeight;
  readonly attnOutNorm: Float32Array;
  readonly ffnNorm: Float32Array;
}

/** Build the serialized attention graph of one layer (and the weights it takes as inputs); `kvDtype` is the cache's element type. */
export function buildAttentionGraph(cfg: ModelConfig, w: AttentionWeights, opts: LinearOptions = {}, kvDtype: "f32" | "f16" = "f32"): BuiltGraph {
  const D = cfg.dModel;
  const H = cfg.nHeads;
  const KVH = cfg.nKvHeads;
  const hd = cfg.headDim;
  const G = H / KVH;
  const g = new GraphBuilder("attention");
  const x = g.input("x", Elem.FLOAT, ["B", "T", D]);
  const cos = g.input("cos", Elem.FLOAT, ["B", "T", hd / 2]);
  const sin = g.input("sin", Elem.FLOAT, ["B", "T", hd / 2]);
  const kvElem = kvDtype === "f16" ? Elem.FLOAT16 : Elem.FLOAT;
  const pastKtIn = g.input("past_kt", kvElem, ["B", KVH, hd, "P"]);
  const pastVIn = g.input("past_v", kvElem, ["B", KVH, "P", hd]);
  const mask = g.input("mask", Elem.FLOAT, ["B", 1, "GT", "S"]);
  const toF32 = (t: string) => (kvDtype === "f16" ? g.op("Cast", [t], { to: Elem.FLOAT }) : t);
  const pastKt = toF32(pastKtIn);
  const pastV = toF32(pastVIn);

  const a = rmsNorm(g, x, w.attnNorm, cfg.rmsEps, "attn_norm");
  const axes2 = g.i64("axes2", [2]);
  const cos4 = g.op("Unsqueeze", [cos, axes2]);
  const sin4 = g.op("Unsqueeze", [sin, axes2]);
  const rope = (t: string) => {
    const [x1, x2] = g.opN("Split", [t], 2, { axis: 3 });
    const o1 = g.op("Sub", [g.op("Mul", [x1!, cos4]), g.op("Mul", [x2!, sin4])]);
    const o2 = g.op("Add", [g.op("Mul", [x2!, cos4]), g.op("Mul", [x1!, sin4])]);
    return g.op("Concat", [o1, o2], { axis: 3 });
  };
  let qr: string;
  let kr: string;
  let v: string;
  if (stacksShared([w.q, w.k, w.v], opts)) {
    // one matmul, one RoPE over the H + KVH query and key heads together (elementwise: the same numbers as two)
    const [qk0, v0] = splitLast(g, linear(g, a, concatRows([w.q, w.k, w.v]), "wqkv", opts), [(H + KVH) * hd, KVH * hd], "wqkv_parts");
    const qk = rope(g.op("Reshape", [qk0!, g.i64("qk_shape", [0, 0, H + KVH, hd])]));
    [qr, kr] = g.opN("Split", [qk, g.i64("qk_split", [H, KVH])], 2, { axis: 2 }) as [string, string];
    v = g.op("Reshape", [v0!, g.i64("v_shape", [0, 0, KVH, hd])]);
  } else {
    const [q0, k0, v0] = linearShared(g, a, [w.q, w.k, w.v], "wqkv", opts);
    qr = rope(g.op("Reshape", [q0!, g.i64("q_shape", [0, 0, H, hd])]));
    kr = rope(g.op("Reshape", [k0!, g.i64("k_shape", [0, 0, KVH, hd])]));
    v = g.op("Reshape", [v0!, g.i64("v_shape", [0, 0, KVH, hd])]);
  }

  // GQA: query head h = kv·G + j reads kv head kv. Rows of the score matrix are j·T + t.
  const qg = g.op("Reshape", [qr, g.i64("qg_shape", [0, 0, KVH, G, hd])]); // [B,T,KVH,G,hd]
  const qt = g.op("Transpose", [qg], { perm: [0, 2, 3, 1, 4] }); // [B,KVH,G,T,hd]
  const qf = g.op("Reshape", [qt, g.i64("qf_shape", [0, 0, -1, hd])]); // [B,KVH,G·T,hd]
  let knT = g.op("Transpose", [kr], { perm: [0, 2, 3, 1] }); // [B,KVH,hd,T]
  let vn = g.op("Transpose", [v], { perm: [0, 2, 1, 3] }); // [B,KVH,T,hd]
  let kOut = knT;
  let vOut = vn;
  if (kvDtype === "f16") {
    // what the cache will hold is what the new tokens attend to
    kOut = g.op("Cast", [knT], { to: Elem.FLOAT16 });
    vOut = g.op("Cast", [vn], { to: Elem.FLOAT16 });
    knT = g.op("Cast", [kOut], { to: Elem.FLOAT });
    vn = g.op("Cast", [vOut], { to: Elem.FLOAT });
  }

  const sPast = g.op("MatMul", [qf, pastKt]); // [B,KVH,G·T,P]
  const sNew = g.op("MatMul", [qf, knT]); // [B,KVH,G·T,T]
  let s = g.op("Concat", [sPast, sNew], { axis: 3 }); // [B,KVH,G·T,S]
  s = g.op("Mul", [s, g.scalar("attn_scale", cfg.attnScale)]);
  s = softcap(g, s, cfg.attnSoftcap, "softcap");
  s = g.op("Add", [s, mask]); // the mask comes repeated per query head of a group: [B,1,G·T,S]
  const p = g.op("Softmax", [s], { axis: -1 });
  const sizes = g.op("Concat", [g.op("Shape", [pastKt], { start: 3, end: 4 }), g.op("Shape", [knT], { start: 3, end: 4 })], { axis: 0 }); // [P, T]
  const [pPast, pNew] = g.opN("Split", [p, sizes], 2, { axis: 3 });
  const o = g.op("Add", [g.op("MatMul", [pPast!, pastV]), g.op("MatMul", [pNew!, vn])]); // [B,KVH,G·T,hd]
  const o5 = g.op("Reshape", [o, g.i64("o5_shape", [0, 0, G, -1, hd])]); // [B,KVH,G,T,hd]
  const ot = g.op("Transpose", [o5], { perm: [0, 3, 1, 2, 4] }); // [B,T,KVH,G,hd]
  const oc = g.op("Reshape", [ot, g.i64("oc_shape", [0, 0, -1])]); // [B,T,H·hd]
  const attnOut = linear(g, oc, w.o, "wo", opts);

  const h = g.op("Add", [x, rmsNorm(g, attnOut, w.attnOutNorm, cfg.rmsEps, "attn_out_norm")]);
  const m = rmsNorm(g, h, w.ffnNorm, cfg.rmsEps, "ffn_norm");

  g.output("h", h, Elem.FLOAT, ["B", "T", D]);
  g.output("m", m, Elem.FLOAT, ["B", "T", D]);
  g.output("k_new", kOut, kvElem, ["B", KVH, hd, "T"]);
  g.output("v_new", vOut, kvElem, ["B", KVH, "T", hd]);
  return g.build();
}
