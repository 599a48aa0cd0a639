/** Sampling settings of one request, their validation, and the logit adjustments (bias, penalties). */

/** Most alternatives {@link SamplingParams.topLogprobs} may ask for (OpenAI's limit). */
export const MAX_TOP_LOGPROBS = 20;

/** Sampling settings of one request (OpenAI / vLLM meanings). */
export interface SamplingParams {
  /** 0 = greedy (argmax, ties to the lowest id). */
  readonly temperature: number;
  /** Nucleus mass in (0, 1]; 1 = off. */
  readonly topP: number;
  /** Keep only the k most likely tokens; integer ≥ 0, 0 = off. */
  readonly topK?: number;
  /** Drop tokens less likely than minP × the most likely one; [0, 1], 0 = off. */
  readonly minP?: number;
  /** Subtracted once from the logit of every token already in the OUTPUT; [-2, 2], 0 = off. */
  readonly presencePenalty?: number;
  /** Subtracted from a token's logit per occurrence in the OUTPUT; [-2, 2], 0 = off. */
  readonly frequencyPenalty?: number;
  /** Tokens of the PROMPT or OUTPUT: logit > 0 → logit / p, else logit × p; > 0, 1 = off. */
  readonly repetitionPenalty?: number;
  /** Token id → bias added to its logit, each in [-100, 100]. */
  readonly logitBias?: ReadonlyMap<number, number>;
  /** PRNG seed (uint32); random when absent. */
  readonly seed?: number;
  /** Alternatives returned per sampled token: 0..{@link MAX_TOP_LOGPROBS}. */
  readonly topLogprobs?: number;
}

const bad = (field: string, want: string, got: unknown) => new RangeError(`${field} must be ${want}, got ${String(got)}`);
const inRange = (v: number, lo: number, hi: number) => Number.isFinite(v) && v >= lo && v <= hi;

/** Check every field; throws RangeError naming the first bad one. */
export function validateSamplingParams(p: SamplingParams): void {
  if (!(Number.isFinite(p.temperature) && p.temperature >= 0)) throw bad("temperature", "a finite number >= 0", p.temperature);
  if (!(Number.isFinite(p.topP) && p.topP > 0 && p.topP <= 1)) throw bad("topP", "in (0, 1]", p.topP);
  if (p.topK !== undefined && !(Number.isInteger(p.topK) && p.topK >= 0)) throw bad("topK", "an integer >= 0 (0 = off)", p.topK);
  if (p.minP !== undefined && !inRange(p.minP, 0, 1)) throw bad("minP", "in [0, 1]", p.minP);
  if (p.presencePenalty !== undefined && !inRange(p.presencePenalty, -2, 2)) throw bad("presencePenalty", "in [-2, 2]", p.presencePenalty);
  if (p.frequencyPenalty !== undefined && !inRange(p.frequencyPenalty, -2, 2)) throw bad("frequencyPenalty", "in [-2, 2]", p.frequencyPenalty);
  if (p.repetitionPenalty !== undefined && !(Number.isFinite(p.repetitionPenalty) && p.repetitionPenalty > 0))
    throw bad("repetitionPenalty", "a finite number > 0 (1 = off)", p.repetitionPenalty);
  if (p.seed !== undefined && !(Number.isInteger(p.seed) && p.seed >= 0 && p.seed <= 0xffffffff)) throw bad("seed", "an integer in [0, 2^32)", p.seed);
  if (p.topLogprobs !== undefined && !(Number.isInteger(p.topLogprobs) && p.topLogprobs >= 0 && p.topLogprobs <= MAX_TOP_LOGPROBS))
    throw bad("topLogprobs", `an integer in [0, ${MAX_TOP_LOGPROBS}]`, p.topLogprobs);
  for (const [id, b] of p.logitBias ?? []) {
    if (!(Number.isInteger(id) && id >= 0)) throw bad("logitBias", "keyed by token ids (integers >= 0)", id);
    if (!inRange(b, -100, 100)) throw bad(`logitBias[${id}]`, "in [-100, 100]", b);
  }
}

/**
 * The tokens a sequence has seen, for the penalties: prompt tokens (repetition penalty only) and
 * output tokens with their counts. Records nothing when no penalty is on.
 */
export class TokenHistory {
  private readonly prompt = new Set<number>();
  private readonly output = new Map<number, number>();
  private readonly presence: number;
  private readonly frequency: number;
  private readonly repetition: number;

  constructor(p: SamplingParams) {
    this.presence = p.presencePenalty ?? 0;
    this.frequency = p.frequencyPenalty ?? 0;
    this.repetition = p.repetitionPenalty ?? 1;
  }

  /** Whether any penalty is on. */
  get active(): boolean {
    return this.presence !== 0 || this.frequency !== 0 || this.repetition !== 1;
  }

  observePrompt(tokens: ArrayLike<number>): void {
    if (this.repetition === 1) return;
    for (let i = 0; i < tokens.length; i++) this.prompt.add(tokens[i]!);
  }

  observeOutput(token: number): void {
    if (this.active) this.output.set(token, (this.output.get(token) ?? 0) + 1);
  }

  /**
   * Apply bias then penalties to the touched tokens of `work[0, n)` (a copy of the raw logits), each
   * computed in f64 from its raw value and stored once (rounded to f32):
   * v = raw + bias; repetition (prompt ∪ output): v > 0 ? v / p : v · p;
   * v −= frequency · count + presence · [count > 0]  (output tokens).
   * @returns whether any logit was touched
   */
  apply(work: Float32Array, n: number, bias: ReadonlyMap<number, number> | undefined): boolean {
    const touched = new Set<number>();
    for (const id of bias?.keys() ?? []) {
      if (id >= n) throw new RangeError(`logitBias: token id ${id} is outside the vocabulary [0, ${n})`);
      touched.add(id);
    }
    if (this.repetition !== 1) for (const t of this.prompt) if (t >= 0 && t < n) touched.add(t);
    for (const t of this.output.keys()) if (t < n) touched.add(t);
    for (const t of touched) {
      let v = work[t]! + (bias?.get(t) ?? 0);
      if (this.repetition !== 1 && (this.prompt.has(t) || this.output.has(t))) v = v > 0 ? v / this.repetition : v * this.repetition;
      const c = this.output.get(t) ?? 0;
      if (c > 0) v -= this.frequency * c + this.presence;
      work[t] = v;
    }
    return touched.size > 0;
  }
}
