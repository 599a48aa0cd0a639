/**
 * Token sampling on f32 logits (plain TypeScript): greedy argmax (ties to the
 * lowest id) at temperature 0, else temperature + nucleus (top-p) sampling
 * from a seeded PRNG, so a given seed reproduces a run.
 */

/** Sampling settings of one request. */
export interface SamplingParams {
  /** 0 = greedy. */
  readonly temperature: number;
  /** Nucleus mass in (0, 1]; 1 = off. */
  readonly topP: number;
  /** Integer ≥ 0, 0 = off. */
  readonly topK?: number;
  /** [0, 1], 0 = off. */
  readonly minP?: number;
  /** [-2, 2], 0 = off (over output tokens). */
  readonly presencePenalty?: number;
  /** [-2, 2], 0 = off (over output tokens). */
  readonly frequencyPenalty?: number;
  /** > 0, 1 = off (over prompt + output tokens). */
  readonly repetitionPenalty?: number;
  /** Token id → bias added to its logit, each in [-100, 100]. */
  readonly logitBias?: ReadonlyMap<number, number>;
  /** PRNG seed (uint32); random when absent. */
  readonly seed?: number;
  /** 0..20 alternatives returned per sampled token. */
  readonly topLogprobs?: number;
}

/** Most alternatives returned per token. */
export const MAX_TOP_LOGPROBS = 20;

/** One alternative token and its log-probability under the raw logits. */
export interface TopLogprob {
  readonly token: number;
  readonly logprob: number;
}

/** A sampled token and its log-probability under the model (log-softmax of the raw logits). */
export interface Sampled {
  readonly token: number;
  readonly logprob: number;
  /** The `topLogprobs` most likely tokens, descending (present when asked for). */
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

/** Per-sequence sampler holding its PRNG state. */
export class Sampler {
  private readonly rand: () => number;
  constructor(readonly params: SamplingParams) {
    if (!(params.temperature >= 0)) throw new RangeError(`temperature must be >= 0, got ${params.temperature}`);
    if (!(params.topP > 0 && params.topP <= 1)) throw new RangeError(`top_p must be in (0, 1], got ${params.topP}`);
    this.rand = mulberry32(params.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  /** Record prompt tokens (for the repetition penalty). */
  observePrompt(_tokens: ArrayLike<number>): void {}

  /** Sample from logits[offset, offset+n). */
  sample(logits: Float32Array, offset = 0, n = logits.length - offset): Sampled {
    if (this.params.temperature === 0) {
      const token = argmax(logits, offset, n);
      return { token, logprob: logprobOf(logits, token, offset, n) };
    }
    const invT = 1 / this.params.temperature;
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]!);
    const p = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += p[i] = Math.exp((logits[offset + i]! - max) * invT);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[b]! - p[a]! || a - b);
    let keep = n;
    if (this.params.topP < 1) {
      let cum = 0;
      for (let j = 0; j < n; j++) {
        cum += p[order[j]!]! / sum;
        if (cum >= this.params.topP) {
          keep = j + 1;
          break;
        }
      }
    }
    let mass = 0;
    for (let j = 0; j < keep; j++) mass += p[order[j]!]!;
    let u = this.rand() * mass;
    let token = order[keep - 1]!;
    for (let j = 0; j < keep; j++) {
      u -= p[order[j]!]!;
      if (u < 0) {
        token = order[j]!;
        break;
      }
    }
    return { token, logprob: logprobOf(logits, token, offset, n) };
  }
}
