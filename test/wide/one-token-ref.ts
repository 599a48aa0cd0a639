/**
 * A float64 reference of the first token's logits (position 0) for models of any width, streaming
 * weights matrix by matrix (or expert by expert) so that Grok-1's full width fits in memory: at
 * position 0 attention over the single cached position returns each head's value (softmax of one
 * score), so q and k do not matter and RoPE is the identity. Everything else follows SPEC.md's f32
 * target in float64 on the weights as `readF32` gives them (dequantised exactly).
 */
import type { ModelConfig, WeightReader } from "../../model/index.js";
import { geluTanh } from "../reference/grok-ref.js";

/** y = W x for W [out, in] f32 (row-major), float64 accumulation. */
function matvec(w: Float32Array, x: Float64Array, out: number, inDim: number): Float64Array {
  const y = new Float64Array(out);
  for (let r = 0; r < out; r++) {
    let s = 0;
    const base = r * inDim;
    for (let c = 0; c < inDim; c++) s += w[base + c]! * x[c]!;
    y[r] = s;
  }
  return y;
}

function rmsScaled(x: Float64Array, gain: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * gain[i]!);
}

/** Logits [V] after feeding `token` at position 0. */
export function oneTokenLogits(cfg: ModelConfig, r: WeightReader, token: number): Float64Array {
  const D = cfg.dModel;
  const hd = cfg.headDim;
  const group = cfg.nHeads / cfg.nKvHeads;
  const embd = r.readF32("token_embd.weight");
  let h: Float64Array = Float64Array.from(embd.subarray(token * D, (token + 1) * D), (v) => v * cfg.embeddingScale);
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `blk.${l}.`;
    const a = rmsScaled(h, r.readF32(`${p}attn_norm.weight`), cfg.rmsEps);
    const v = matvec(r.readF32(`${p}attn_v.weight`), a, cfg.nKvHeads * hd, D);
    const o = new Float64Array(cfg.nHeads * hd);
    for (let j = 0; j < cfg.nHeads; j++) for (let d = 0; d < hd; d++) o[j * hd + d] = v[Math.floor(j / group) * hd + d]!;
    const ao = matvec(r.readF32(`${p}attn_output.weight`), o, D, cfg.nHeads * hd);
    const ha = rmsScaled(ao, r.readF32(`${p}attn_output_norm.weight`), cfg.rmsEps);
    h = h.map((x, i) => x + ha[i]!);
    const m = rmsScaled(h, r.readF32(`${p}ffn_norm.weight`), cfg.rmsEps);
    const z = matvec(r.readF32(`${p}ffn_gate_inp.weight`), m, cfg.nExperts, D);
    const zmax = Math.max(...z);
    const ez = z.map((x) => Math.exp(x - zmax));
    const sum = ez.reduce((s, x) => s + x, 0);
    const prob = ez.map((x) => x / sum);
    const order = Array.from(prob.keys()).sort((x, y) => prob[y]! - prob[x]! || x - y);
    const y = new Float64Array(D);
    for (const e of order.slice(0, cfg.nExpertsUsed)) {
      const g = matvec(r.readF32(`${p}ffn_gate_exps.weight`, e), m, cfg.ffnDim, D);
      const u = matvec(r.readF32(`${p}ffn_up_exps.weight`, e), m, cfg.ffnDim, D);
      const act = g.map((x, i) => geluTanh(x) * u[i]!);
      const dn = matvec(r.readF32(`${p}ffn_down_exps.weight`, e), act, D, cfg.ffnDim);
      for (let i = 0; i < D; i++) y[i] += prob[e]! * dn[i]!;
    }
    const hy = rmsScaled(y, r.readF32(`${p}layer_output_norm.weight`), cfg.rmsEps);
    h = h.map((x, i) => x + hy[i]!);
  }
  const z = rmsScaled(h, r.readF32("output_norm.weight"), cfg.rmsEps);
  const unembed = r.find("output.weight") ? r.readF32("output.weight") : embd;
  return matvec(unembed, z, cfg.vocabSize, D).map((x) => x * cfg.logitScale);
}
