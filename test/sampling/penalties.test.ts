/**
 * logit_bias and the penalties against hand-computed values (vLLM's definitions and order:
 * bias, then repetition over prompt + output tokens, then frequency and presence over output
 * tokens), their effect through the Sampler (greedy flips), and parameter validation.
 */
import { describe, expect, it } from "vitest";
import { logprobOf, Sampler, TokenHistory, type SamplingParams } from "../../model/index.js";

describe("TokenHistory.apply (hand-computed)", () => {
  it("bias, repetition (prompt ∪ output), frequency × count, presence once", () => {
    const p: SamplingParams = { temperature: 1, topP: 1, repetitionPenalty: 2, frequencyPenalty: 0.5, presencePenalty: 0.25 };
    const h = new TokenHistory(p);
    h.observePrompt([0, 4]);
    for (const t of [1, 1, 3]) h.observeOutput(t);
    const work = Float32Array.from([2, -1, 0.5, 3, 0, 7]);
    const touched = h.apply(work, 6, new Map([[2, 1], [4, -0.5]]));
    expect(touched).toBe(true);
    // t0: prompt, 2 > 0 → 2/2 = 1
    // t1: output ×2: −1 → −2 (repetition), − 0.5·2 − 0.25 → −3.25
    // t2: bias +1 → 1.5 (not seen)
    // t3: output ×1: 3/2 = 1.5, − 0.5 − 0.25 → 0.75
    // t4: bias −0.5 → −0.5, prompt and ≤ 0 → ×2 = −1
    // t5: untouched
    expect(Array.from(work)).toEqual([1, -3.25, 1.5, 0.75, -1, 7]);
  });

  it("records nothing when no penalty is on; prompt tokens only count for repetition", () => {
    const off = new TokenHistory({ temperature: 1, topP: 1 });
    off.observePrompt([0]);
    off.observeOutput(1);
    const a = Float32Array.from([1, 2]);
    expect(off.apply(a, 2, undefined)).toBe(false);
    expect(Array.from(a)).toEqual([1, 2]);
    const freq = new TokenHistory({ temperature: 1, topP: 1, frequencyPenalty: 1, presencePenalty: 1 });
    freq.observePrompt([0]); // ignored: presence/frequency count OUTPUT tokens only
    const b = Float32Array.from([1, 2]);
    freq.apply(b, 2, undefined);
    expect(Array.from(b)).toEqual([1, 2]);
  });

  it("a bias on a token outside the vocabulary is a RangeError naming logitBias", () => {
    const h = new TokenHistory({ temperature: 0, topP: 1 });
    expect(() => h.apply(new Float32Array(4), 4, new Map([[4, 1]]))).toThrow(/logitBias: token id 4 is outside the vocabulary \[0, 4\)/);
  });
});

describe("penalties through the Sampler (greedy)", () => {
  const run = (p: Partial<SamplingParams>, logits: number[], steps: number, prompt: number[] = []) => {
    const s = new Sampler({ temperature: 0, topP: 1, ...p });
    s.observePrompt(prompt);
    const l = Float32Array.from(logits);
    return Array.from({ length: steps }, () => s.sample(l).token);
  };

  it("presence: a used token is pushed down once", () => {
    // [1, 0.9]: 0 → (−1, 0.9) → 1 → (−1, −1.1) → 0, 0, 0
    expect(run({ presencePenalty: 2 }, [1, 0.9], 5)).toEqual([0, 1, 0, 0, 0]);
  });

  it("frequency: every use pushes further", () => {
    // 0 (0.7 vs 0.9) → 1 (0.7 vs 0.6) → 0 (0.4 vs 0.6) → 1 (0.4 vs 0.3) → 0
    expect(run({ frequencyPenalty: 0.3 }, [1, 0.9], 5)).toEqual([0, 1, 0, 1, 0]);
  });

  it("repetition covers the prompt: 1/1.5 < 0.8", () => {
    expect(run({ repetitionPenalty: 1.5 }, [1, 0.8], 1, [0])).toEqual([1]);
    expect(run({ repetitionPenalty: 1.5 }, [1, 0.8], 1, [])).toEqual([0]);
    // negative logits are multiplied: −1 · 1.5 = −1.5 < −1.2
    expect(run({ repetitionPenalty: 1.5 }, [-1, -1.2], 2)).toEqual([0, 1]);
  });

  it("logit_bias steers the draw but the reported logprob stays raw", () => {
    const l = Float32Array.from([3, 1, 0, -2]);
    const s = new Sampler({ temperature: 0, topP: 1, logitBias: new Map([[3, 100]]) });
    const r = s.sample(l);
    expect(r.token).toBe(3);
    expect(r.logprob).toBeCloseTo(logprobOf(l, 3), 12);
    const ban = new Sampler({ temperature: 0.9, topP: 1, seed: 3, logitBias: new Map([[0, -100]]) });
    for (let k = 0; k < 200; k++) expect(ban.sample(l).token).not.toBe(0);
  });
});

describe("validation", () => {
  const base: SamplingParams = { temperature: 1, topP: 1 };
  it.each([
    [{ temperature: -0.1 }, /temperature/],
    [{ temperature: NaN }, /temperature/],
    [{ topP: 0 }, /topP/],
    [{ topP: 1.01 }, /topP/],
    [{ topK: -1 }, /topK/],
    [{ topK: 2.5 }, /topK/],
    [{ minP: 1.5 }, /minP/],
    [{ presencePenalty: 2.5 }, /presencePenalty/],
    [{ frequencyPenalty: -3 }, /frequencyPenalty/],
    [{ repetitionPenalty: 0 }, /repetitionPenalty/],
    [{ seed: -1 }, /seed/],
    [{ seed: 2 ** 32 }, /seed/],
    [{ topLogprobs: 21 }, /topLogprobs/],
    [{ logitBias: new Map([[-1, 1]]) }, /logitBias/],
    [{ logitBias: new Map([[5, 101]]) }, /logitBias\[5\]/],
  ] as [Partial<SamplingParams>, RegExp][])("%o is a RangeError naming the field", (bad, re) => {
    expect(() => new Sampler({ ...base, ...bad })).toThrow(RangeError);
    expect(() => new Sampler({ ...base, ...bad })).toThrow(re);
  });

  it("accepts the edges", () => {
    expect(() => new Sampler({ temperature: 0, topP: 1, topK: 0, minP: 1, presencePenalty: -2, frequencyPenalty: 2, repetitionPenalty: 0.01, seed: 2 ** 32 - 1, topLogprobs: 20, logitBias: new Map([[0, -100]]) })).not.toThrow();
  });
});
