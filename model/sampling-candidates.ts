/**
 * Steps 2–5 of sampling (temperature, top-k, min-p, top-p) in O(V), no sort:
 * one pass computes every token's weight w = exp((logit − max)/T) and drops it
 * into a histogram of 2048 bins of −log w; top-k / min-p / top-p are prefixes of
 * the tokens ranked by weight (ties to the lower id), so they are found by
 * walking the bins and selecting exactly inside the one boundary bin.
 */
import { expNonPositive, nucleus, selectTopK } from "./sampling-select.js";

const NB = 2048;
/** Weights below e^−MAX_SPAN (relative to the largest) share the last bin. */
const MAX_SPAN = 64;

// Scratch shared by every sampler (sampling is synchronous): grown on demand, never shrunk.
let w = new Float64Array(0);
let bin = new Uint16Array(0);
let cand = new Int32Array(0);
const binCount = new Int32Array(NB);
const binMass = new Float64Array(NB);

/**
 * The tokens left after steps 2–5: every token whose bin is < `binLimit`, plus cand[0, extra).
 * Views into shared scratch: valid until the next call.
 */
export interface Candidates {
  readonly binLimit: number;
  readonly extra: number;
  /** Σ weights of the kept tokens. */
  readonly mass: number;
  /** Largest logit, and Σ over all tokens of exp((logit − max)/T). */
  readonly max: number;
  readonly total: number;
  /** log-sum-exp of the raw logits when asked for (`raw`), else NaN. */
  readonly rawLse: number;
  /** Weight of every token [n]. */
  readonly w: Float64Array;
  readonly bin: Uint16Array;
  readonly cand: Int32Array;
}

/**
 * What the head graph computes for one row of raw logits (see model/onnx/head.ts): the largest and
 * smallest logit (exact) and log Σ exp(logits) (f32 accumulation). Given to sampling, they save it
 * two passes over the vocabulary; the sampled token is the same, only the reported logprob's last
 * digits come from the f32 sum.
 */
export interface LogitStats {
  readonly max: number;
  readonly min: number;
  readonly lse: number;
}

/** Settings read here, all present (a fixed object shape keeps the kernels monomorphic). */
export interface FilterSettings {
  /** > 0. */
  readonly temperature: number;
  readonly topP: number;
  /** 0 = off. */
  readonly topK: number;
  /** 0 = off. */
  readonly minP: number;
}

/**
 * Steps 2–5 on src[base, base+n) at temperature > 0. With `raw` (the unbiased logits, offset
 * rawBase), also their log-sum-exp.
 */
export function candidates(src: Float32Array, base: number, n: number, p: FilterSettings, raw?: Float32Array, rawBase = 0, stats?: LogitStats): Candidates {
  if (w.length < n) {
    w = new Float64Array(n);
    bin = new Uint16Array(n);
    cand = new Int32Array(n);
  }
  // the raw log-sum-exp comes from the same pass when sampling reads the raw logits (no bias or penalty)
  const sameRaw = raw === src && rawBase === base;
  // the raw logits' max and min, when given, are src's (exact values): one pass fewer
  const { max, min } = stats && sameRaw ? stats : maxMin(src, base, n);
  const invT = 1 / p.temperature;
  const filtered = p.topK > 0 || p.minP > 0 || p.topP < 1;
  const withRaw = sameRaw && invT !== 1 && !stats;
  let total: number;
  if (filtered) {
    const span = Math.min((max - min) * invT, MAX_SPAN);
    total = weighAndBin(src, base, n, max, invT, span > 0 ? (NB - 1) / span : 0, w, bin, binCount, binMass, withRaw, sums);
  } else total = weigh(src, base, n, max, invT, w, bin, withRaw, sums);
  let rawLse = NaN;
  if (raw !== undefined && stats) rawLse = stats.lse;
  else if (raw !== undefined) {
    if (sameRaw) rawLse = max + Math.log(invT === 1 ? total : sums[0]!);
    else {
      const rawMax = raw === src && rawBase === base ? max : maxMin(raw, rawBase, n).max;
      rawLse = rawMax + Math.log(sumExp(raw, rawBase, n, rawMax));
    }
  }
  const kept = filtered ? filter(n, p, total) : { binLimit: NB, extra: 0, mass: total };
  return { binLimit: kept.binLimit, extra: kept.extra, mass: kept.mass, max, total, rawLse, w, bin, cand };
}

/** Largest and smallest of v[base, base+n). */
function maxMin(v: Float32Array, base: number, n: number): { max: number; min: number } {
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    const x = v[base + i]!;
    if (x > max) max = x;
    if (x < min) min = x;
  }
  return { max, min };
}

/** Σ exp(v − max) over v[base, base+n). */
function sumExp(v: Float32Array, base: number, n: number, max: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += expNonPositive(v[base + i]! - max);
  return s;
}

/** Σ exp(src − max) of the last weighing pass that was asked for it (`withRaw`). */
const sums = new Float64Array(1);

/** W[i] = exp((src − max)/T), all in bin 0; returns Σ W (and Σ exp(src − max) into raw[0] when withRaw). */
function weigh(src: Float32Array, base: number, n: number, max: number, invT: number, W: Float64Array, B: Uint16Array, withRaw: boolean, raw: Float64Array): number {
  B.fill(0, 0, n);
  let total = 0;
  if (!withRaw) {
    for (let i = 0; i < n; i++) total += W[i] = expNonPositive((src[base + i]! - max) * invT);
    return total;
  }
  let rawSum = 0;
  for (let i = 0; i < n; i++) {
    const d = src[base + i]! - max;
    total += W[i] = expNonPositive(d * invT);
    rawSum += expNonPositive(d);
  }
  raw[0] = rawSum;
  return total;
}

/** W[i] = exp(x) with x = (src − max)/T, B[i] = bin of −x, and the per-bin counts and masses; returns Σ W. */
function weighAndBin(
  src: Float32Array,
  base: number,
  n: number,
  max: number,
  invT: number,
  scale: number,
  W: Float64Array,
  B: Uint16Array,
  counts: Int32Array,
  masses: Float64Array,
  withRaw: boolean,
  raw: Float64Array,
): number {
  counts.fill(0);
  masses.fill(0);
  let total = 0;
  let rawSum = 0;
  for (let i = 0; i < n; i++) {
    const d = src[base + i]! - max;
    const x = d * invT;
    const e = expNonPositive(x);
    const y = -x * scale;
    const b = y < NB - 1 ? y | 0 : NB - 1;
    W[i] = e;
    B[i] = b;
    counts[b]!++;
    masses[b]! += e;
    total += e;
    if (withRaw) rawSum += expNonPositive(d);
  }
  raw[0] = rawSum;
  return total;
}

/** Number of W[0, n) ≥ floor. */
function countAtLeast(W: Float64Array, n: number, floor: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if (W[i]! >= floor) c++;
  return c;
}

/** Top-k, min-p, top-p on the binned weights: the kept tokens as bins < binLimit plus cand[0, extra). */
function filter(n: number, p: FilterSettings, total: number): { binLimit: number; extra: number; mass: number } {
  // top-k and min-p: a prefix of `limit` tokens (the max weighs 1: min-p is w ≥ minP)
  let limit = n;
  if (p.topK > 0) limit = Math.min(limit, p.topK);
  if (p.minP > 0) limit = Math.min(limit, countAtLeast(w, n, p.minP));
  let binLimit = NB;
  let extra = 0;
  let mass = total;
  if (limit < n) ({ bin: binLimit, extra, mass } = prefixByCount(n, limit));
  if (p.topP >= 1) return { binLimit, extra, mass };
  // top-p over what is left: the smallest prefix reaching topP × its mass
  const target = p.topP * mass;
  let acc = 0;
  for (let b = 0; b < binLimit; b++) {
    if (acc + binMass[b]! >= target) {
      const m = gather(bin, n, b, cand);
      const nuc = nucleus(cand, m, w, target - acc);
      return { binLimit: b, extra: nuc.kept, mass: acc + nuc.mass };
    }
    acc += binMass[b]!;
  }
  // the boundary lies among the boundary bin's selected tokens, cand[0, extra)
  const nuc = nucleus(cand, extra, w, target - acc);
  return { binLimit, extra: nuc.kept, mass: acc + nuc.mass };
}

/** The `limit` highest-ranked tokens as bins < bin plus cand[0, extra), and their mass. */
function prefixByCount(n: number, limit: number): { bin: number; extra: number; mass: number } {
  let before = 0;
  let acc = 0;
  for (let b = 0; b < NB; b++) {
    if (before + binCount[b]! >= limit) {
      const m = gather(bin, n, b, cand);
      const r = limit - before;
      selectTopK(cand, m, r, w);
      for (let j = 0; j < r; j++) acc += w[cand[j]!]!;
      return { bin: b, extra: r, mass: acc };
    }
    before += binCount[b]!;
    acc += binMass[b]!;
  }
  return { bin: NB, extra: 0, mass: acc };
}

/** Tokens of bin b into out[0, m). */
function gather(B: Uint16Array, n: number, b: number, out: Int32Array): number {
  let m = 0;
  for (let i = 0; i < n; i++) if (B[i] === b) out[m++] = i;
  return m;
}
