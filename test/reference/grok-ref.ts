/**
 * Independent float64 reference of the Grok-1 forward pass (tests only, never shipped).
 *
 * Written from SPEC.md "The f32 target" (which wins over §4–§6), §4–§6 with every
 * bf16 rounding removed, §9, and the public reference README's pseudo-code. It
 * shares nothing with the engine except the WeightReader used to read tensors:
 * every tensor is read with `readF32` and widened to Float64Array, and every
 * operation below is float64.
 *
 *   h = token_embd[t] · embeddingScale
 *   per layer:
 *     a = rms(h) ⊙ attn_norm
 *     q, k, v = Wq a, Wk a, Wv a            (W is [out, in])
 *     q, k = rope_neox(q, k, pos)           (pairs (i, i+D/2), inv_freq_i = base^(−2i/D), 0-based absolute pos)
 *     s = q·k · attnScale; s = c·tanh(s/c) (c = attnSoftcap, 0 disables); causal mask
 *     query head h reads kv head floor(h / (nHeads/nKvHeads))
 *     o = Wo concat_h(softmax(s) v)
 *     h += rms(o) ⊙ attn_output_norm
 *     m = rms(h) ⊙ ffn_norm
 *     p = softmax(W_router m); top-k (ties → lower index); gates = p[e] (NOT renormalised)
 *     y = Σ_e gate_e · Wdown_e (gelu_tanh(Wgate_e m) ⊙ Wup_e m)
 *     h += rms(y) ⊙ layer_output_norm
 *   logits = U (rms(h) ⊙ output_norm) · logitScale, U = output.weight if present else token_embd
 *   rms(x) = x / sqrt(mean(x²) + eps)
 */
import type { ModelConfig } from "../../model/config.js";
import type { WeightReader } from "../../model/weights/types.js";

/** Per-sequence KV cache: rotated keys and raw values per layer and position. */
export class RefKvCache {
  /** k[layer][pos] = Float64Array[nKvHeads·headDim] (after RoPE). */
  readonly k: Float64Array[][];
  /** v[layer][pos] = Float64Array[nKvHeads·headDim]. */
  readonly v: Float64Array[][];
  constructor(nLayers: number) {
    this.k = Array.from({ length: nLayers }, () => []);
    this.v = Array.from({ length: nLayers }, () => []);
  }
  /** Number of tokens cached (= the next absolute position). */
  get length(): number {
    return this.k[0]?.length ?? 0;
  }
}

/** Streaming summary of a sample of numbers. */
export class RunningStat {
  n = 0;
  sum = 0;
  sumSq = 0;
  min = Infinity;
  max = -Infinity;
  maxAbs = 0;
  add(x: number): void {
    this.n++;
    this.sum += x;
    this.sumSq += x * x;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    const a = Math.abs(x);
    if (a > this.maxAbs) this.maxAbs = a;
  }
  get mean(): number {
    return this.n ? this.sum / this.n : NaN;
  }
  /** Population standard deviation. */
  get std(): number {
    if (!this.n) return NaN;
    const m = this.sum / this.n;
    return Math.sqrt(Math.max(0, this.sumSq / this.n - m * m));
  }
}

/** Statistics of one layer, accumulated over every token passed through forward(). */
export class RefLayerStats {
  /** RMS of the residual stream after the attention add, one sample per token. */
  readonly residualRmsAfterAttn = new RunningStat();
  /** RMS of the residual stream after the MoE add (= the layer output), one sample per token. */
  readonly residualRms = new RunningStat();
  /** RMS of the attention branch output (Wo·o) before its post-norm. */
  readonly attnOutRms = new RunningStat();
  /** RMS of the MoE branch output y before its post-norm. */
  readonly moeOutRms = new RunningStat();
  /** Top-1 router probability, one sample per token. */
  readonly routerTop1 = new RunningStat();
  /** Every top-1 router probability, in order (for medians/quantiles). */
  readonly routerTop1Samples: number[] = [];
  /** Smallest gap between the k-th and (k+1)-th router logits (near-tie detector). */
  minRouterLogitGap = Infinity;
  /** How many tokens selected each expert (in their top-k). */
  readonly expertCounts: number[];
  /** Scaled attention scores q·k·attnScale BEFORE the soft-cap, over causally visible pairs. */
  readonly attnScores = new RunningStat();
  /** Same, per query head. */
  readonly attnScoresPerHead: RunningStat[];
  constructor(nExperts: number, nHeads: number) {
    this.expertCounts = new Array<number>(nExperts).fill(0);
    this.attnScoresPerHead = Array.from({ length: nHeads }, () => new RunningStat());
  }
}

/** Optional intermediate statistics; pass one to forward()/logitsFor()/greedy(). */
export class RefStats {
  /** RMS of h right after the embedding (× embeddingScale), per token. */
  readonly embeddingRms = new RunningStat();
  readonly layers: RefLayerStats[];
  /** Logits values over every produced row. */
  readonly logits = new RunningStat();
  /** Tokens processed. */
  tokens = 0;
  constructor(config: ModelConfig) {
    this.layers = Array.from({ length: config.nLayers }, () => new RefLayerStats(config.nExperts, config.nHeads));
  }

  /** A plain-object summary, convenient for logging / expect(). */
  summary(): RefStatsSummary {
    const median = (xs: number[]): number => {
      if (!xs.length) return NaN;
      const s = [...xs].sort((a, b) => a - b);
      const m = s.length >> 1;
      return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
    };
    return {
      tokens: this.tokens,
      embeddingRms: this.embeddingRms.mean,
      logitsStd: this.logits.std,
      layers: this.layers.map((l) => ({
        residualRms: { mean: l.residualRms.mean, min: l.residualRms.min, max: l.residualRms.max },
        residualRmsAfterAttn: l.residualRmsAfterAttn.mean,
        attnOutRms: l.attnOutRms.mean,
        moeOutRms: l.moeOutRms.mean,
        routerTop1: { min: l.routerTop1.min, median: median(l.routerTop1Samples), max: l.routerTop1.max },
        minRouterLogitGap: l.minRouterLogitGap,
        expertCounts: [...l.expertCounts],
        attnScoreStd: l.attnScores.std,
        attnScoreMaxAbs: l.attnScores.maxAbs,
        attnScoreStdPerHead: l.attnScoresPerHead.map((h) => h.std),
      })),
    };
  }
}

export interface RefStatsSummary {
  tokens: number;
  embeddingRms: number;
  logitsStd: number;
  layers: Array<{
    residualRms: { mean: number; min: number; max: number };
    residualRmsAfterAttn: number;
    attnOutRms: number;
    moeOutRms: number;
    routerTop1: { min: number; median: number; max: number };
    minRouterLogitGap: number;
    expertCounts: number[];
    attnScoreStd: number;
    attnScoreMaxAbs: number;
    attnScoreStdPerHead: number[];
  }>;
}

interface RefLayer {
  attnNorm: Float64Array;
  wq: Float64Array;
  wk: Float64Array;
  wv: Float64Array;
  wo: Float64Array;
  attnOutNorm: Float64Array;
  ffnNorm: Float64Array;
  router: Float64Array;
  gate: Float64Array[];
  up: Float64Array[];
  down: Float64Array[];
  layerOutNorm: Float64Array;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Exact tanh-form GELU. */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

/** argmax with ties going to the lowest index. */
function argmaxLow(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** y = W x, W row-major [out, in]. */
function matvec(w: Float64Array, x: Float64Array, out: number, inp: number): Float64Array {
  const y = new Float64Array(out);
  for (let r = 0; r < out; r++) {
    let s = 0;
    const base = r * inp;
    for (let c = 0; c < inp; c++) s += w[base + c] * x[c];
    y[r] = s;
  }
  return y;
}

export class GrokReference {
  readonly config: ModelConfig;
  private readonly embd: Float64Array;
  private readonly unembd: Float64Array;
  private readonly outputNorm: Float64Array;
  private readonly layers: RefLayer[];
  /** invFreq[i] = base^(−2i/D), i < D/2. */
  private readonly invFreq: Float64Array;
  /** True when `output.weight` exists (untied unembedding). */
  readonly hasOutputWeight: boolean;

  constructor(config: ModelConfig, weights: WeightReader) {
    this.config = config;
    const c = config;
    const D = c.dModel;
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    if (c.nHeads % c.nKvHeads !== 0) throw new Error(`nHeads ${c.nHeads} not a multiple of nKvHeads ${c.nKvHeads}`);
    if (c.headDim % 2 !== 0) throw new Error(`headDim ${c.headDim} must be even`);
    if (c.nExpertsUsed > c.nExperts) throw new Error(`nExpertsUsed ${c.nExpertsUsed} > nExperts ${c.nExperts}`);

    const load = (name: string, shape: number[]): Float64Array => {
      const info = weights.info(name);
      if (info.shape.length !== shape.length || info.shape.some((s, i) => s !== shape[i]))
        throw new Error(`${weights.file}: tensor ${name} has shape [${info.shape.join(", ")}], expected [${shape.join(", ")}]`);
      const f = weights.readF32(name);
      const n = shape.reduce((a, b) => a * b, 1);
      if (f.length !== n) throw new Error(`${name}: readF32 returned ${f.length} values, expected ${n}`);
      return Float64Array.from(f);
    };
    const loadExperts = (name: string, out: number, inp: number): Float64Array[] => {
      const info = weights.info(name);
      const shape = [c.nExperts, out, inp];
      if (info.shape.length !== 3 || info.shape.some((s, i) => s !== shape[i]))
        throw new Error(`${weights.file}: tensor ${name} has shape [${info.shape.join(", ")}], expected [${shape.join(", ")}]`);
      const res: Float64Array[] = [];
      for (let e = 0; e < c.nExperts; e++) {
        const f = weights.readF32(name, e);
        if (f.length !== out * inp) throw new Error(`${name}[${e}]: readF32 returned ${f.length} values, expected ${out * inp}`);
        res.push(Float64Array.from(f));
      }
      return res;
    };

    this.embd = load("token_embd.weight", [c.vocabSize, D]);
    this.hasOutputWeight = weights.find("output.weight") !== undefined;
    this.unembd = this.hasOutputWeight ? load("output.weight", [c.vocabSize, D]) : this.embd;
    this.outputNorm = load("output_norm.weight", [D]);
    this.layers = [];
    for (let l = 0; l < c.nLayers; l++) {
      const p = `blk.${l}.`;
      this.layers.push({
        attnNorm: load(`${p}attn_norm.weight`, [D]),
        wq: load(`${p}attn_q.weight`, [qDim, D]),
        wk: load(`${p}attn_k.weight`, [kvDim, D]),
        wv: load(`${p}attn_v.weight`, [kvDim, D]),
        wo: load(`${p}attn_output.weight`, [D, qDim]),
        attnOutNorm: load(`${p}attn_output_norm.weight`, [D]),
        ffnNorm: load(`${p}ffn_norm.weight`, [D]),
        router: load(`${p}ffn_gate_inp.weight`, [c.nExperts, D]),
        gate: loadExperts(`${p}ffn_gate_exps.weight`, c.ffnDim, D),
        up: loadExperts(`${p}ffn_up_exps.weight`, c.ffnDim, D),
        down: loadExperts(`${p}ffn_down_exps.weight`, D, c.ffnDim),
        layerOutNorm: load(`${p}layer_output_norm.weight`, [D]),
      });
    }
    const half = c.headDim / 2;
    this.invFreq = new Float64Array(half);
    for (let i = 0; i < half; i++) this.invFreq[i] = Math.pow(c.ropeBase, (-2 * i) / c.headDim);
  }

  /** A fresh, empty per-sequence KV cache. */
  newCache(): RefKvCache {
    return new RefKvCache(this.config.nLayers);
  }

  /** A fresh statistics collector. */
  newStats(): RefStats {
    return new RefStats(this.config);
  }

  /** rms(x) ⊙ g, rms(x) = x / sqrt(mean(x²) + eps). */
  private rmsNorm(x: Float64Array, g: Float64Array): Float64Array {
    let ss = 0;
    for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
    const inv = 1 / Math.sqrt(ss / x.length + this.config.rmsEps);
    const y = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) y[i] = x[i] * inv * g[i];
    return y;
  }

  private static rms(x: Float64Array): number {
    let ss = 0;
    for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
    return Math.sqrt(ss / x.length);
  }

  /** NEOX rotate_half RoPE, in place, on `nh` heads of headDim packed in x, at absolute position pos. */
  private rope(x: Float64Array, nh: number, pos: number): void {
    const Dh = this.config.headDim;
    const half = Dh / 2;
    for (let h = 0; h < nh; h++) {
      const o = h * Dh;
      for (let i = 0; i < half; i++) {
        const th = pos * this.invFreq[i];
        const cs = Math.cos(th);
        const sn = Math.sin(th);
        const a = x[o + i];
        const b = x[o + i + half];
        x[o + i] = a * cs - b * sn;
        x[o + i + half] = b * cs + a * sn;
      }
    }
  }

  /**
   * Run `tokens` at absolute positions startPos, startPos+1, … through the model,
   * appending their K/V to `cache` (which must hold exactly `startPos` tokens).
   * Returns one logits row [vocab] per token.
   */
  forward(tokens: number[], startPos: number, cache: RefKvCache, stats?: RefStats): Float64Array[] {
    const c = this.config;
    if (cache.k.length !== c.nLayers) throw new Error(`cache has ${cache.k.length} layers, model has ${c.nLayers}`);
    if (startPos !== cache.length) throw new Error(`startPos ${startPos} != cached tokens ${cache.length}`);
    if (startPos + tokens.length > c.contextLength)
      throw new Error(`sequence of ${startPos + tokens.length} tokens exceeds contextLength ${c.contextLength}`);
    const D = c.dModel;
    const Dh = c.headDim;
    const group = c.nHeads / c.nKvHeads;
    const qDim = c.nHeads * Dh;
    const kvDim = c.nKvHeads * Dh;
    const cap = c.attnSoftcap;

    // Embedding.
    const hs: Float64Array[] = tokens.map((t) => {
      if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new Error(`token id ${t} outside [0, ${c.vocabSize})`);
      const h = new Float64Array(D);
      for (let i = 0; i < D; i++) h[i] = this.embd[t * D + i] * c.embeddingScale;
      stats?.embeddingRms.add(GrokReference.rms(h));
      return h;
    });
    if (stats) stats.tokens += tokens.length;

    for (let l = 0; l < c.nLayers; l++) {
      const L = this.layers[l];
      const ls = stats?.layers[l];
      const kc = cache.k[l];
      const vc = cache.v[l];
      // Attention: process tokens in order so each sees itself and everything before it.
      for (let t = 0; t < tokens.length; t++) {
        const pos = startPos + t;
        const h = hs[t];
        const a = this.rmsNorm(h, L.attnNorm);
        const q = matvec(L.wq, a, qDim, D);
        const k = matvec(L.wk, a, kvDim, D);
        const v = matvec(L.wv, a, kvDim, D);
        this.rope(q, c.nHeads, pos);
        this.rope(k, c.nKvHeads, pos);
        kc.push(k);
        vc.push(v);
        const nKeys = pos + 1; // causal: keys 0..pos
        const o = new Float64Array(qDim);
        const s = new Float64Array(nKeys);
        for (let hq = 0; hq < c.nHeads; hq++) {
          const kvh = Math.floor(hq / group);
          const qo = hq * Dh;
          const ko = kvh * Dh;
          let mx = -Infinity;
          for (let j = 0; j < nKeys; j++) {
            const kj = kc[j];
            let dot = 0;
            for (let d = 0; d < Dh; d++) dot += q[qo + d] * kj[ko + d];
            let x = dot * c.attnScale;
            if (ls) {
              ls.attnScores.add(x);
              ls.attnScoresPerHead[hq].add(x);
            }
            if (cap > 0) x = cap * Math.tanh(x / cap);
            s[j] = x;
            if (x > mx) mx = x;
          }
          let den = 0;
          for (let j = 0; j < nKeys; j++) {
            s[j] = Math.exp(s[j] - mx);
            den += s[j];
          }
          for (let j = 0; j < nKeys; j++) {
            const pj = s[j] / den;
            const vj = vc[j];
            for (let d = 0; d < Dh; d++) o[qo + d] += pj * vj[ko + d];
          }
        }
        const attnOut = matvec(L.wo, o, D, qDim);
        ls?.attnOutRms.add(GrokReference.rms(attnOut));
        const post = this.rmsNorm(attnOut, L.attnOutNorm);
        for (let i = 0; i < D; i++) h[i] += post[i];
        ls?.residualRmsAfterAttn.add(GrokReference.rms(h));
      }
      // MoE (position-wise).
      for (let t = 0; t < tokens.length; t++) {
        const h = hs[t];
        const m = this.rmsNorm(h, L.ffnNorm);
        const logits = matvec(L.router, m, c.nExperts, D);
        let mx = -Infinity;
        for (let e = 0; e < c.nExperts; e++) if (logits[e] > mx) mx = logits[e];
        const p = new Float64Array(c.nExperts);
        let den = 0;
        for (let e = 0; e < c.nExperts; e++) {
          p[e] = Math.exp(logits[e] - mx);
          den += p[e];
        }
        for (let e = 0; e < c.nExperts; e++) p[e] /= den;
        // top-k, ties to the lower index (strict > keeps the earlier one).
        const chosen: number[] = [];
        const taken = new Uint8Array(c.nExperts);
        for (let r = 0; r < c.nExpertsUsed; r++) {
          let best = -1;
          for (let e = 0; e < c.nExperts; e++) if (!taken[e] && (best < 0 || p[e] > p[best])) best = e;
          taken[best] = 1;
          chosen.push(best);
        }
        if (ls) {
          ls.routerTop1.add(p[chosen[0]]);
          ls.routerTop1Samples.push(p[chosen[0]]);
          for (const e of chosen) ls.expertCounts[e]++;
          if (c.nExpertsUsed < c.nExperts) {
            let nextBest = -Infinity;
            for (let e = 0; e < c.nExperts; e++) if (!taken[e] && logits[e] > nextBest) nextBest = logits[e];
            const gap = logits[chosen[chosen.length - 1]] - nextBest;
            if (gap < ls.minRouterLogitGap) ls.minRouterLogitGap = gap;
          }
        }
        const y = new Float64Array(D);
        for (const e of chosen) {
          const g = matvec(L.gate[e], m, c.ffnDim, D);
          const u = matvec(L.up[e], m, c.ffnDim, D);
          const act = new Float64Array(c.ffnDim);
          for (let f = 0; f < c.ffnDim; f++) act[f] = geluTanh(g[f]) * u[f];
          const d = matvec(L.down[e], act, D, c.ffnDim);
          const gate = p[e]; // NOT renormalised
          for (let i = 0; i < D; i++) y[i] += gate * d[i];
        }
        ls?.moeOutRms.add(GrokReference.rms(y));
        const post = this.rmsNorm(y, L.layerOutNorm);
        for (let i = 0; i < D; i++) h[i] += post[i];
        ls?.residualRms.add(GrokReference.rms(h));
      }
    }

    // Final norm and unembedding.
    return hs.map((h) => {
      const z = this.rmsNorm(h, this.outputNorm);
      const logits = matvec(this.unembd, z, c.vocabSize, D);
      for (let i = 0; i < logits.length; i++) logits[i] *= c.logitScale;
      if (stats) for (let i = 0; i < logits.length; i++) stats.logits.add(logits[i]);
      return logits;
    });
  }

  /** Logits at the last position of a whole prompt (fresh cache). */
  logitsFor(tokens: number[], stats?: RefStats): Float64Array {
    if (!tokens.length) throw new Error("logitsFor: empty prompt");
    const rows = this.forward(tokens, 0, this.newCache(), stats);
    return rows[rows.length - 1];
  }

  /**
   * Greedy continuation: prefill the prompt, then n−1 one-token decode steps on the
   * KV cache. Argmax ties go to the lowest id; EOS does not stop it.
   * `steps[k]` are the logits that chose `tokens[k]`.
   */
  greedyWithLogits(prompt: number[], n: number, stats?: RefStats): { tokens: number[]; steps: Float64Array[] } {
    if (!prompt.length) throw new Error("greedy: empty prompt");
    const cache = this.newCache();
    const out: number[] = [];
    const steps: Float64Array[] = [];
    if (n <= 0) return { tokens: out, steps };
    let rows = this.forward(prompt, 0, cache, stats);
    for (let k = 0; k < n; k++) {
      const logits = rows[rows.length - 1];
      steps.push(logits);
      const t = argmaxLow(logits);
      out.push(t);
      if (k + 1 < n) rows = this.forward([t], cache.length, cache, stats);
    }
    return { tokens: out, steps };
  }

  /** Greedy continuation of n tokens (KV-cache decode path). */
  greedy(prompt: number[], n: number, stats?: RefStats): number[] {
    return this.greedyWithLogits(prompt, n, stats).tokens;
  }
}
