/**
 * Sampling with the head's logit statistics (max, min, log-sum-exp): the same tokens as without them
 * for every sampling setting, draw for draw with the same seed; the reported logprob uses the given
 * log-sum-exp; non-finite statistics are ignored.
 */
import { describe, expect, it } from "vitest";
import { logprobOf, Sampler, type LogitStats, type SamplingParams } from "../../model/index.js";
import { randomLogits } from "./brute.js";

const V = 131072;

/** Exact max/min and the f64 log-sum-exp, as the head would give them (up to its f32 sum). */
function statsOf(l: Float32Array, offset = 0, n = l.length - offset): LogitStats {
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < n; i++) (max = Math.max(max, l[offset + i]!)), (min = Math.min(min, l[offset + i]!));
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(l[offset + i]! - max);
  return { max, min, lse: max + Math.log(s) };
}

const SETTINGS: SamplingParams[] = [
  { temperature: 0, topP: 1 },
  { temperature: 1, topP: 1 },
  { temperature: 0.7, topP: 0.9 },
  { temperature: 0.8, topP: 1, topK: 40 },
  { temperature: 1, topP: 1, minP: 0.05 },
  { temperature: 0.7, topP: 0.9, topLogprobs: 5 },
  { temperature: 0.7, topP: 0.9, presencePenalty: 0.5, frequencyPenalty: 0.5, repetitionPenalty: 1.1, logitBias: new Map([[5, 2], [77, -100]]) },
  { temperature: 0, topP: 1, logitBias: new Map([[5, 30]]) },
];

describe("Sampler with the head's logit statistics", () => {
  for (const p of SETTINGS)
    it(`draws the same tokens as without them: ${JSON.stringify({ ...p, logitBias: p.logitBias ? [...p.logitBias] : undefined })}`, () => {
      const rows = [1, 2, 3, 4].map((seed) => randomLogits(V, seed, seed === 4 ? 0.05 : 3));
      const a = new Sampler({ ...p, seed: 11 });
      const b = new Sampler({ ...p, seed: 11 });
      for (let k = 0; k < 40; k++) {
        const l = rows[k % rows.length]!;
        const st = statsOf(l);
        const plain = a.sample(l);
        const hinted = b.sample(l, 0, V, st);
        expect(hinted.token).toBe(plain.token);
        expect(hinted.logprob).toBe(l[hinted.token]! - st.lse); // the given log-sum-exp
        expect(hinted.logprob).toBeCloseTo(logprobOf(l, hinted.token), 9);
        expect(hinted.top?.map((t) => t.token)).toEqual(plain.top?.map((t) => t.token));
      }
    });

  it("greedy with statistics picks the lowest id among tied maxima, in a row at an offset", () => {
    const l = randomLogits(3 * V, 9);
    l[V + 500] = l[V + 70] = 40;
    const s = new Sampler({ temperature: 0, topP: 1 }).sample(l, V, V, statsOf(l, V, V));
    expect(s.token).toBe(70);
  });

  it("ignores statistics that are not all finite (and a max that is not the logits')", () => {
    const l = randomLogits(V, 5);
    const st = statsOf(l);
    const want = new Sampler({ temperature: 0, topP: 1 }).sample(l);
    for (const bad of [{ ...st, lse: NaN }, { ...st, max: Infinity }, { ...st, min: -Infinity }]) {
      const s = new Sampler({ temperature: 0, topP: 1 }).sample(l, 0, V, bad);
      expect(s.token).toBe(want.token);
      expect(s.logprob).toBeCloseTo(want.logprob, 12);
    }
    const wrongMax = new Sampler({ temperature: 0, topP: 1 }).sample(l, 0, V, { ...st, max: 1e6 });
    expect(wrongMax.token).toBe(want.token);
  });
});
