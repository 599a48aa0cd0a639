/**
 * The sampler against brute force: greedy = argmax, top-k / min-p / top-p masks equal a full sort's at
 * V = 131072, top_logprobs equal a full sort's, and draws follow the renormalised distribution
 * (chi-square at the 0.1 % level, fixed seeds, so the outcome is deterministic).
 */
import { describe, expect, it } from "vitest";
import { argmax, logprobOf, MAX_TOP_LOGPROBS, Sampler, samplingSupport, type SamplingParams } from "../../model/index.js";
import { bruteSupport, chiSquare, chiSquareCritical001, randomLogits } from "./brute.js";

const V = 131072;

describe("Sampler: greedy and reproducibility", () => {
  it("temperature 0 equals argmax exactly (ties to the lowest id) and reports the raw logprob", () => {
    for (const seed of [1, 2, 3]) {
      const l = randomLogits(V, seed);
      l[777] = l[99] = 50; // a tie: the lower id wins
      const s = new Sampler({ temperature: 0, topP: 1 }).sample(l);
      expect(s.token).toBe(argmax(l));
      expect(s.token).toBe(99);
      expect(s.logprob).toBeCloseTo(logprobOf(l, 99), 12);
    }
  });

  it("top-k, min-p and top-p do not change greedy", () => {
    const l = randomLogits(V, 4);
    const s = new Sampler({ temperature: 0, topP: 0.1, topK: 3, minP: 0.9 }).sample(l);
    expect(s.token).toBe(argmax(l));
  });

  it("the same seed reproduces a run; another seed gives another", () => {
    const rows = Array.from({ length: 50 }, (_, i) => randomLogits(V, 100 + i, 1));
    const run = (seed: number, extra: Partial<SamplingParams> = {}) => {
      const s = new Sampler({ temperature: 0.8, topP: 0.95, seed, ...extra });
      return rows.map((r) => s.sample(r).token);
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
    expect(run(7, { topK: 40, minP: 0.05 })).toEqual(run(7, { topK: 40, minP: 0.05 }));
  });

  it("samples a row of a batch (offset, n) as that row alone", () => {
    const rows = [randomLogits(1000, 1), randomLogits(1000, 2), randomLogits(1000, 3)];
    const flat = new Float32Array(3000);
    rows.forEach((r, i) => flat.set(r, i * 1000));
    const a = new Sampler({ temperature: 1.2, topP: 0.9, seed: 5, topLogprobs: 3 });
    const b = new Sampler({ temperature: 1.2, topP: 0.9, seed: 5, topLogprobs: 3 });
    for (let k = 0; k < 20; k++) expect(a.sample(flat, 1000, 1000)).toEqual(b.sample(rows[1]!));
  });

  it("rejects a logits range outside the array", () => {
    const s = new Sampler({ temperature: 0, topP: 1 });
    expect(() => s.sample(new Float32Array(10), 5, 6)).toThrow(RangeError);
    expect(() => s.sample(new Float32Array(10), 0, 0)).toThrow(RangeError);
  });
});

describe("Sampler: masks against a full sort (V = 131072)", () => {
  const cases: SamplingParams[] = [
    { temperature: 1, topP: 0.9 },
    { temperature: 0.7, topP: 0.5 },
    { temperature: 1.5, topP: 0.99 },
    { temperature: 1, topP: 1, topK: 50 },
    { temperature: 0.6, topP: 1, topK: 1 },
    { temperature: 1, topP: 1, minP: 0.05 },
    { temperature: 2, topP: 0.8, topK: 1000, minP: 0.01 },
    { temperature: 0.9, topP: 0.95, topK: 20000 },
  ];
  it.each(cases)("%o", (p) => {
    for (const [seed, scale] of [[11, 3], [12, 0.2], [13, 8]] as const) {
      const l = randomLogits(V, seed, scale);
      // a run of equal logits around the boundary exercises the id tie-break
      for (let i = 500; i < 540; i++) l[i] = l[400]!;
      const got = samplingSupport(l, p);
      const want = bruteSupport(l, p);
      expect(got.tokens.length).toBe(want.tokens.length);
      expect(got.tokens.findIndex((t, i) => t !== want.tokens[i])).toBe(-1);
      const worst = got.probs.reduce((a, q, i) => Math.max(a, Math.abs(q - want.probs[i]!) / want.probs[i]!), 0);
      expect(worst).toBeLessThanOrEqual(1e-12);
    }
  });
});

describe("Sampler: draws follow the distribution (chi-square, fixed seeds)", () => {
  const logits = Float32Array.from([1.0, 0.5, 0.2, -0.3, 2.0, 2.0, -1.5, 0.0]);
  const cases: SamplingParams[] = [
    { temperature: 1, topP: 1 },
    { temperature: 0.5, topP: 1 },
    { temperature: 1.3, topP: 0.7 },
    { temperature: 1, topP: 1, topK: 3 },
    { temperature: 1, topP: 1, minP: 0.2 },
    { temperature: 0.8, topP: 0.9, topK: 5, minP: 0.1 },
  ];
  it.each(cases)("%o", (p) => {
    const draws = 40_000;
    const want = bruteSupport(logits, p);
    const s = new Sampler({ ...p, seed: 1234 });
    const counts = new Map<number, number>();
    for (let k = 0; k < draws; k++) {
      const t = s.sample(logits).token;
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    expect([...counts.keys()].every((t) => want.tokens.includes(t))).toBe(true);
    if (want.tokens.length === 1) return void expect(counts.get(want.tokens[0]!)).toBe(draws);
    const stat = chiSquare(want.tokens.map((t) => counts.get(t) ?? 0), want.probs, draws);
    expect(stat).toBeLessThan(chiSquareCritical001(want.tokens.length - 1));
  });

  it("a wrong distribution fails the same check (the test has power)", () => {
    const draws = 40_000;
    const s = new Sampler({ temperature: 1, topP: 1, seed: 1234 });
    const counts = new Array<number>(8).fill(0);
    for (let k = 0; k < draws; k++) counts[s.sample(logits).token]!++;
    const tempered = bruteSupport(logits, { temperature: 1.1, topP: 1 });
    expect(chiSquare(counts, tempered.probs, draws)).toBeGreaterThan(chiSquareCritical001(7));
  });
});

describe("Sampler: top_logprobs", () => {
  it("equal a full sort of the raw logits at V = 131072 (descending, ties to the lower id)", () => {
    const l = randomLogits(V, 21);
    for (const i of [9000, 100, 70000, 5]) l[i] = 13; // a tie at the top
    l[3] = 12.5;
    l[60000] = 12.5;
    const s = new Sampler({ temperature: 0.7, topP: 0.9, seed: 3, topLogprobs: MAX_TOP_LOGPROBS, logitBias: new Map([[42, 100]]) });
    const r = s.sample(l);
    expect(r.token).toBe(42); // the bias decides the draw ...
    expect(r.logprob).toBeCloseTo(logprobOf(l, 42), 10); // ... but logprobs stay raw
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => l[b]! - l[a]! || a - b);
    expect(r.top!.map((t) => t.token)).toEqual(order.slice(0, MAX_TOP_LOGPROBS));
    expect(r.top!.slice(0, 6).map((t) => t.token)).toEqual([5, 100, 9000, 70000, 3, 60000]);
    r.top!.forEach((t) => expect(t.logprob).toBeCloseTo(logprobOf(l, t.token), 10));
  });

  it("are absent when not asked for, and fewer when the vocabulary is smaller", () => {
    expect(new Sampler({ temperature: 0, topP: 1 }).sample(randomLogits(100, 1)).top).toBeUndefined();
    const r = new Sampler({ temperature: 0, topP: 1, topLogprobs: 5 }).sample(Float32Array.from([0.5, 2, 1]));
    expect(r.top!.map((t) => t.token)).toEqual([1, 2, 0]);
  });
});
