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
 * Inputs  x [N,D] (N = B·T rows, sequence b's tokens at rows b·T…b·T+T−1),
 *         rope_c/rope_s [B,T,1,hd] (RoPE of each new token in rotate-half form: rope_c = [cos, cos],
 *         rope_s = [−sin, sin], so q' = q·rope_c + swap(q)·rope_s with swap exchanging the halves —
 *         bit for bit the x₁cos − x₂sin, x₂cos + x₁sin of SPEC's NEOX RoPE),
 *         bt_shape int64 [4] = [B, T, −1, hd], ps_sizes int64 [2] = [P, T],
 *         past_kt [B,KVH,hd,P] (rotated keys, transposed), past_v [B,KVH,P,hd],
 *         mask [B,1,G·T,P+T] (0 = visible, -1e30 = hidden; past columns first; rows j·T + t:
 *         the [T, P+T] mask of the new tokens repeated for each of the G = H/KVH query heads of a group).
 * Outputs h [N,D], m [N,D], k_new [B,KVH,hd,T] (rotated keys, transposed),
 *         v_new [B,KVH,T,hd].
 *
 * Shapes the caller knows (B, T, P) come in as inputs rather than being computed in the graph, and
 * the rows stay 2-D around the matmuls: at decode a run's cost is mostly onnxruntime's per-node cost
 * (about 1 µs a node here), and this is ~14 nodes fewer than reshaping in the graph.
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
  const x = g.input("x", Elem.FLOAT, ["N", D]);
  const ropeC = g.input("rope_c", Elem.FLOAT, ["B", "T", 1, hd]);
  const ropeS = g.input("rope_s", Elem.FLOAT, ["B", "T", 1, hd]);
  const btShape = g.input("bt_shape", Elem.INT64, [4]);
  const psSizes = g.input("ps_sizes", Elem.INT64, [2]);
  const kvElem = kvDtype === "f16" ? Elem.FLOAT16 : Elem.FLOAT;
  const pastKtIn = g.input("past_kt", kvElem, ["B", KVH, hd, "P"]);
  const pastVIn = g.input("past_v", kvElem, ["B", KVH, "P", hd]);
  const mask = g.input("mask", Elem.FLOAT, ["B", 1, "GT", "S"]);
  const toF32 = (t: string) => (kvDtype === "f16" ? g.op("Cast", [t], { to: Elem.FLOAT }) : t);
  const pastKt = toF32(pastKtIn);
  const pastV = toF32(pastVIn);

  const a = rmsNorm(g, x, w.attnNorm, cfg.rmsEps, "attn_norm");
  // t·rope_c + swap(t)·rope_s, swap(t) = the halves of the last axis exchanged (Split + Concat: whole
  // half-rows copied; a Gather of single elements made a 16 × 128-token prefill 1.5× slower)
  const rope = (t: string) => {
    const [t1, t2] = g.opN("Split", [t], 2, { axis: 3 });
    return g.op("Add", [g.op("Mul", [t, ropeC]), g.op("Mul", [g.op("Concat", [t2!, t1!], { axis: 3 }), ropeS])]);
  };
  let qr: string;
  let kr: string;
  let v: string;
  if (stacksShared([w.q, w.k, w.v], opts)) {
    // one matmul, one RoPE over the H + KVH query and key heads together (elementwise: the same numbers as two)
    const qkv = g.op("Reshape", [linear(g, a, concatRows([w.q, w.k, w.v]), "wqkv", opts, true), btShape]); // [B,T,H+2KVH,hd]
    const [qk0, v0] = g.opN("Split", [qkv, g.i64("qkv_split", [H + KVH, KVH])], 2, { axis: 2 });
    [qr, kr] = g.opN("Split", [rope(qk0!), g.i64("qk_split", [H, KVH])], 2, { axis: 2 }) as [string, string];
    v = v0!;
  } else {
    const [q0, k0, v0] = linearShared(g, a, [w.q, w.k, w.v], "wqkv", opts, true);
    qr = rope(g.op("Reshape", [q0!, btShape]));
    kr = rope(g.op("Reshape", [k0!, btShape]));
    v = g.op("Reshape", [v0!, btShape]);
  }

  // GQA: query head h = kv·G + j reads kv head kv. Rows of the score matrix are j·T + t.
  const qt = g.op("Transpose", [qr], { perm: [0, 2, 1, 3] }); // [B,H,T,hd]
  const qf = g.op("Reshape", [qt, g.i64("qf_shape", [0, KVH, -1, hd])]); // [B,KVH,G·T,hd]
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
  const [pPast, pNew] = g.opN("Split", [p, psSizes], 2, { axis: 3 });
  const o = g.op("Add", [g.op("MatMul", [pPast!, pastV]), g.op("MatMul", [pNew!, vn])]); // [B,KVH,G·T,hd]
  const oh = g.op("Reshape", [o, g.i64("oh_shape", [0, H, -1, hd])]); // [B,H,T,hd]
  const ot = g.op("Transpose", [oh], { perm: [0, 2, 1, 3] }); // [B,T,H,hd]
  const oc = g.op("Reshape", [ot, g.i64("oc_shape", [-1, H * hd])]); // [N,H·hd]
  const attnOut = linear(g, oc, w.o, "wo", opts, true);

  const h = g.op("Add", [x, rmsNorm(g, attnOut, w.attnOutNorm, cfg.rmsEps, "attn_out_norm")]);
  const m = rmsNorm(g, h, w.ffnNorm, cfg.rmsEps, "ffn_norm");

  g.output("h", h, Elem.FLOAT, ["N", D]);
  g.output("m", m, Elem.FLOAT, ["N", D]);
  g.output("k_new", kOut, kvElem, ["B", KVH, hd, "T"]);
  g.output("v_new", vOut, kvElem, ["B", KVH, "T", hd]);
  return g.build();
}
