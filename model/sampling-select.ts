/**
 * Selection kernels of the sampler, all O(n) expected (no full sort of the
 * vocabulary): a fast exp for the softmax passes, streaming top-N, top-k by
 * quickselect, and the nucleus (top-p) by weighted quickselect.
 *
 * Order of candidates everywhere: value descending, ties to the lower index
 * (a strict total order, so every selection equals the prefix of a full sort).
 */

const EXP_N = 64;
const EXP_INV = EXP_N / Math.LN2;
// ln 2 split (fdlibm): the high part has 32 significant bits, so k·LN2_HI/64 is exact for |k| < 2^21.
const LN2N_HI = 6.93147180369123816490e-1 / EXP_N;
const LN2N_LO = 1.90821492927058770002e-10 / EXP_N;
const ROUND = 6755399441055744.0; // 1.5·2^52: x + ROUND − ROUND rounds x to the nearest integer
const EXP_FRAC = Float64Array.from({ length: EXP_N }, (_, j) => Math.pow(2, j / EXP_N));
const EXP_POW2 = Float64Array.from({ length: 1100 }, (_, e) => Math.pow(2, -e));

/**
 * e^x for x ≤ 0 in f64, within 2 ulp of Math.exp and about twice as fast:
 * x = (64e + j)·ln2/64 + r, e^x = 2^e · 2^(j/64) · e^r with a degree-6 polynomial
 * for e^r (|r| ≤ ln2/128). Returns 0 below −708 (where e^x < 2^−1021).
 */
export function expNonPositive(x: number): number {
  if (!(x >= -708)) return x !== x ? NaN : 0;
  const kd = x * EXP_INV + ROUND - ROUND;
  const k = kd | 0;
  const r = x - kd * LN2N_HI - kd * LN2N_LO;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720))))));
  return EXP_POW2[-(k >> 6)]! * EXP_FRAC[k & 63]! * p;
}

/**
 * The `k` highest of v[base, base+n) (value descending, ties to the lower index), written to
 * out[0, count) in that order; NaN values are never selected. One pass with a small sorted buffer:
 * for topLogprobs-sized k (≤ 20).
 * @returns count = min(k, number of non-NaN values)
 */
export function topN(v: Float32Array, base: number, n: number, k: number, out: Int32Array): number {
  if (k <= 0) return 0;
  let count = 0;
  let floor = -Infinity; // value of the current k-th, once full
  for (let i = 0; i < n; i++) {
    const x = v[base + i]!;
    if (count === k ? !(x > floor) : !(x >= -Infinity)) continue;
    let j = count === k ? k - 1 : count++;
    while (j > 0 && v[base + out[j - 1]!]! < x) {
      out[j] = out[j - 1]!;
      j--;
    }
    out[j] = i;
    if (count === k) floor = v[base + out[k - 1]!]!;
  }
  return count;
}

/** True when token a ranks before b: larger weight, ties to the lower id. */
function before(w: Float64Array, a: number, b: number): boolean {
  const wa = w[a]!;
  const wb = w[b]!;
  return wa > wb || (wa === wb && a < b);
}

/** Partition idx[lo, hi) around a median-of-three pivot; returns its final position p (before it: ranks higher). */
function partition(idx: Int32Array, lo: number, hi: number, w: Float64Array): number {
  const mid = lo + ((hi - lo) >> 1);
  const a = idx[lo]!;
  const b = idx[mid]!;
  const c = idx[hi - 1]!;
  let m: number;
  if (before(w, a, b) !== before(w, a, c)) m = lo;
  else if (before(w, b, a) !== before(w, b, c)) m = mid;
  else m = hi - 1;
  const pivot = idx[m]!;
  idx[m] = idx[hi - 1]!;
  const pw = w[pivot]!;
  let store = lo;
  for (let j = lo; j < hi - 1; j++) {
    const t = idx[j]!;
    const wt = w[t]!;
    if (wt > pw || (wt === pw && t < pivot)) {
      idx[j] = idx[store]!;
      idx[store++] = t;
    }
  }
  idx[hi - 1] = idx[store]!;
  idx[store] = pivot;
  return store;
}

/** Insertion sort of idx[lo, hi) by rank (small ranges only). */
function sortByRank(idx: Int32Array, lo: number, hi: number, w: Float64Array): void {
  for (let i = lo + 1; i < hi; i++) {
    const t = idx[i]!;
    let j = i;
    while (j > lo && before(w, t, idx[j - 1]!)) {
      idx[j] = idx[j - 1]!;
      j--;
    }
    idx[j] = t;
  }
}

/**
 * Reorder idx[0, count) so that its first k entries are its k highest-ranked tokens by weight
 * (unordered): quickselect, O(count) expected.
 */
export function selectTopK(idx: Int32Array, count: number, k: number, w: Float64Array): void {
  let lo = 0;
  let hi = count;
  while (hi - lo > 16) {
    const p = partition(idx, lo, hi, w);
    if (p === k || p === k - 1) return;
    if (p > k) hi = p;
    else lo = p + 1;
  }
  sortByRank(idx, lo, hi, w);
}

/**
 * The nucleus of tokens idx[0, count) with weights w: reorders idx so that idx[0, kept) is the
 * smallest set of highest-ranked tokens whose weights sum to ≥ target (all of them when the total
 * falls short). Weighted quickselect: O(count) expected; idx[0, kept) is unordered.
 * @returns kept and their summed weight
 */
export function nucleus(idx: Int32Array, count: number, w: Float64Array, target: number): { kept: number; mass: number } {
  let lo = 0;
  let hi = count;
  let acc = 0;
  while (hi - lo > 16) {
    const p = partition(idx, lo, hi, w);
    let m = 0;
    for (let j = lo; j < p; j++) m += w[idx[j]!]!;
    if (acc + m >= target) {
      hi = p;
      continue;
    }
    acc += m + w[idx[p]!]!;
    lo = p + 1;
    if (acc >= target) return { kept: lo, mass: acc };
  }
  sortByRank(idx, lo, hi, w);
  while (lo < hi && acc < target) acc += w[idx[lo++]!]!;
  return { kept: lo, mass: acc };
}
