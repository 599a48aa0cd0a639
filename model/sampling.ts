/**
 * Token sampling on f32 logits (plain TypeScript, pure: no I/O, no globals
 * besides reusable scratch buffers), O(V) per token — no sort of the vocabulary.
 *
 * Order of processing in {@link Sampler.sample} (vLLM's order):
 *  1. logit_bias, then the penalties (repetition over prompt + output tokens,
 *     frequency and presence over output tokens) change the logits used for
 *     sampling — never the reported logprobs;
 *  2. temperature 0 → greedy: argmax of those logits (ties to the lowest id);
 *     else divide by the temperature and softmax;
 *  3. top-k keeps the k most likely (ties to the lower id);
 *  4. min-p drops tokens below minP × the most likely one's probability;
 *  5. top-p keeps the smallest most-likely set whose probability, renormalised
 *     over what steps 3–4 kept, reaches topP;
 *  6. one draw from the seeded PRNG (mulberry32) over what is left.
 * The reported `logprob` (and `top`) is the log-softmax of the RAW logits.
 */
import { MAX_TOP_LOGPROBS, TokenHistory, validateSamplingParams, type SamplingParams } from "./sampling-params.js";
import { candidates, type FilterSettings, type LogitStats } from "./sampling-candidates.js";
import { expNonPositive, topN } from "./sampling-select.js";

export { MAX_TOP_LOGPROBS, TokenHistory, validateSamplingParams, type SamplingParams } from "./sampling-params.js";
export type { LogitStats } from "./sampling-candidates.js";

/** One alternative token and its log-probability under the raw logits. */
export interface TopLogprob {
  readonly token: number;
  readonly logprob: number;
}

/** A sampled token and its log-probability under the model (log-softmax of the raw logits). */
export interface Sampled {
  readonly token: number;
  readonly logprob: number;
  /** When topLogprobs > 0: the topLogprobs most likely tokens under the raw logits, descending, ties to the lower id. */
  readonly top?: readonly TopLogprob[];
}

/** Index of the largest value in logits[offset, offset+n); ties to the lowest index. */
export function argmax(logits: ArrayLike<number>, offset = 0, n = logits.length - offset): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = logits[offset + i]!;
    if (v > bv) (bv = v), (best = i);
  }
  return best;
}

/** log-softmax of logits[offset..offset+n) at index `token`, in f64. */
export function logprobOf(logits: ArrayLike<number>, token: number, offset = 0, n = logits.length - offset): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]!);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[offset + i]! - max);
  return logits[offset + token]! - max - Math.log(sum);
}

/** mulberry32: small, fast, seedable uint32 PRNG → [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Scratch shared by every sampler (sampling is synchronous): grown on demand, never shrunk.
let work = new Float32Array(0);
const topIdx = new Int32Array(MAX_TOP_LOGPROBS);

/** The first index of logits[offset, offset+n) holding `max` (their largest value): the argmax, ties to the lowest index. */
function firstAt(logits: Float32Array, offset: number, n: number, max: number): number {
  for (let i = 0; i < n; i++) if (logits[offset + i] === max) return i;
  return argmax(logits, offset, n); // max was not theirs
}

/** log-sum-exp of v[base, base+n) in f64 (`max` when the caller knows it). */
function logSumExp(v: Float32Array, base: number, n: number, max?: number): number {
  if (max === undefined) {
    max = -Infinity;
    for (let i = 0; i < n; i++) if (v[base + i]! > max) max = v[base + i]!;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += expNonPositive(v[base + i]! - max);
  return max + Math.log(sum);
}

/** Per-sequence sampler: its settings, PRNG state and token history (for the penalties). */
export class Sampler {
  private readonly rand: () => number;
  private readonly history: TokenHistory;
  private readonly filter: FilterSettings;

  /** @throws RangeError naming the bad field */
  constructor(readonly params: SamplingParams) {
    validateSamplingParams(params);
    this.rand = mulberry32(params.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.history = new TokenHistory(params);
    this.filter = { temperature: params.temperature, topP: params.topP, topK: params.topK ?? 0, minP: params.minP ?? 0 };
  }

  /** Record prompt tokens (for the repetition penalty). */
  observePrompt(tokens: ArrayLike<number>): void {
    this.history.observePrompt(tokens);
  }

  /**
   * Sample from logits[offset, offset+n); records the sampled token as an output token.
   * @param stats those logits' max, min and log-sum-exp when the caller has them (the head graph
   *   computes them): the same token, two passes over the vocabulary fewer; ignored unless all finite
   */
  sample(logits: Float32Array, offset = 0, n = logits.length - offset, stats?: LogitStats): Sampled {
    if (!(Number.isInteger(offset) && Number.isInteger(n) && offset >= 0 && n >= 1 && offset + n <= logits.length))
      throw new RangeError(`sample: logits[${offset}, ${offset + n}) is not inside the ${logits.length} logits given`);
    const p = this.params;
    const hint = stats && Number.isFinite(stats.max) && Number.isFinite(stats.min) && Number.isFinite(stats.lse) ? stats : undefined;
    // 1. the logits sampling reads: a biased/penalised copy, or the raw ones in place
    let src: Float32Array = logits;
    let base = offset;
    if (p.logitBias?.size || this.history.active) {
      if (work.length < n) work = new Float32Array(n);
      work.set(logits.subarray(offset, offset + n));
      if (this.history.apply(work, n, p.logitBias)) (src = work), (base = 0);
    }
    let token: number;
    let lse: number;
    if (p.temperature === 0) {
      token = hint && src === logits ? firstAt(logits, offset, n, hint.max) : argmax(src, base, n);
      lse = hint ? hint.lse : logSumExp(logits, offset, n, src === logits ? logits[offset + token]! : undefined);
    } else {
      const r = this.draw(src, base, n, logits, offset, hint);
      token = r.token;
      lse = r.rawLse;
    }
    this.history.observeOutput(token);
    const logprob = logits[offset + token]! - lse;
    const k = p.topLogprobs ?? 0;
    if (k === 0) return { token, logprob };
    const count = topN(logits, offset, n, k, topIdx);
    const top: TopLogprob[] = [];
    for (let j = 0; j < count; j++) top.push({ token: topIdx[j]!, logprob: logits[offset + topIdx[j]!]! - lse });
    return { token, logprob, top };
  }

  /** Steps 2–6 at temperature > 0; also returns the raw logits' log-sum-exp. */
  private draw(src: Float32Array, base: number, n: number, raw: Float32Array, rawBase: number, stats: LogitStats | undefined): { token: number; rawLse: number } {
    const c = candidates(src, base, n, this.filter, raw, rawBase, stats);
    const { w, bin, cand, binLimit, rawLse } = c;
    let u = this.rand() * c.mass;
    for (let i = 0; i < n; i++) if (bin[i]! < binLimit && (u -= w[i]!) < 0) return { token: i, rawLse };
    for (let j = 0; j < c.extra; j++) if ((u -= w[cand[j]!]!) < 0) return { token: cand[j]!, rawLse };
    // rounding left u ≥ 0: the most likely kept token
    return { token: argmax(src, base, n), rawLse };
  }
}

/**
 * The tokens sampling may draw from logits[offset, offset+n) after temperature, top-k, min-p and
 * top-p (no bias or penalties), ascending, with their probabilities renormalised over that set.
 * For tests and tools; temperature must be > 0.
 */
export function samplingSupport(logits: Float32Array, p: SamplingParams, offset = 0, n = logits.length - offset): { tokens: number[]; probs: number[] } {
  validateSamplingParams(p);
  if (!(p.temperature > 0)) throw new RangeError("samplingSupport needs temperature > 0");
  const c = candidates(logits, offset, n, { temperature: p.temperature, topP: p.topP, topK: p.topK ?? 0, minP: p.minP ?? 0 });
  const tokens: number[] = [];
  for (let i = 0; i < n; i++) if (c.bin[i]! < c.binLimit) tokens.push(i);
  tokens.push(...c.cand.subarray(0, c.extra));
  tokens.sort((a, b) => a - b);
  return { tokens, probs: tokens.map((t) => c.w[t]! / c.mass) };
}
