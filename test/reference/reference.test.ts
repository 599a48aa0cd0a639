/**
 * Validates the independent float64 reference (grok-ref.ts) against the public
 * reference outputs of ../shared/grok-1/reference (produced by a separate float64
 * implementation of SPEC.md's f32 target), for the F32 and the Q8_0 GGUF.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfigJson, type ModelConfig } from "../../model/config.js";
import { openModel } from "../../model/weights/open.js";
import type { WeightReader } from "../../model/weights/types.js";
import {
  argmax,
  loadReferencePrompts,
  loadReferenceResults,
  maxAbsDiff,
  maxAbsDiffAt,
  publicReferenceDir,
  referenceGguf,
  relMaxError,
  type ReferenceResults,
  type ReferenceVariant,
} from "./compare.js";
import { GrokReference, RefStats } from "./grok-ref.js";

const DIR = publicReferenceDir();
const HAVE_REFERENCE = existsSync(`${DIR}/prompts.json`);

/** README "Suggested tolerances". */
const TOL: Record<ReferenceVariant, number> = { f32: 2e-3, q8_0: 1e-2 };
/** Cached decode vs full recompute: same float64 maths, only summation order may differ. */
const RECOMPUTE_TOL = 1e-9;

/** Measured numbers, printed once at the end (for reports). */
const measured: string[] = [];

describe.skipIf(!HAVE_REFERENCE).each(["f32", "q8_0"] as const)("GrokReference vs public reference (%s)", (variant) => {
  let config: ModelConfig;
  let weights: WeightReader;
  let ref: GrokReference;
  let results: ReferenceResults;
  let close: (() => void) | undefined;
  const pathStats = new Map<number, RefStats>();

  beforeAll(() => {
    const opened = openModel(referenceGguf(variant, DIR));
    config = opened.config;
    weights = opened.weights;
    close = () => opened.close();
    ref = new GrokReference(config, weights);
    results = loadReferenceResults(variant, DIR);
  });
  afterAll(() => close?.());

  it("reads a config that matches the public config.json (no preset assumed)", () => {
    const pub = loadConfigJson(`${DIR}/config.json`);
    const keys = [
      "vocabSize", "dModel", "nLayers", "nHeads", "nKvHeads", "headDim", "nExperts", "nExpertsUsed", "ffnDim",
      "rmsEps", "ropeBase", "embeddingScale", "logitScale", "attnScale", "attnSoftcap",
    ] as const;
    for (const k of keys) expect(Math.abs(config[k] - pub[k]), k).toBeLessThanOrEqual(1e-6 * Math.abs(pub[k])); // eps is stored as f32 in GGUF
    expect(ref.hasOutputWeight).toBe(false); // tied: no output.weight in the public files
    expect(results.n_predict).toBe(16);
    expect(results.prompts.map((p) => p.prompt)).toEqual(loadReferencePrompts(DIR));
  });

  describe.each([0, 1, 2])("prompt p%i", (i) => {
    it("last-position logits, greedy continuation, teacher-forced steps, cached == recompute", () => {
      const p = results.prompts[i];
      expect(p.index).toBe(i);
      const tol = TOL[variant];
      const n = p.continuation.length;

      // 1. Last prompt position vs p<i>.logits.bin (all vocab logits).
      const last = ref.logitsFor(p.prompt);
      const dLast = maxAbsDiff(last, p.lastLogits);
      expect(dLast, `max |Δ| at last prompt position`).toBeLessThanOrEqual(tol);
      expect(relMaxError(last, p.lastLogits)).toBeLessThan(1e-3);
      expect(maxAbsDiffAt(last, p.top10.ids, p.top10.logits)).toBeLessThanOrEqual(tol);

      // 2. Free-running greedy on the KV-cache decode path: prefill, then 1-token steps.
      const greedy = ref.greedyWithLogits(p.prompt, n);
      expect(greedy.tokens).toEqual(p.continuation);
      expect(maxAbsDiff(greedy.steps[0], last)).toBeLessThan(RECOMPUTE_TOL);

      // 3. Teacher forcing on the cache: steps[k] = logits after prompt + continuation[:k].
      const stats = ref.newStats();
      const cache = ref.newCache();
      const forced: Float64Array[] = [];
      let rows = ref.forward(p.prompt, 0, cache, stats);
      forced.push(rows[rows.length - 1]);
      for (let k = 1; k < n; k++) {
        rows = ref.forward([p.continuation[k - 1]], cache.length, cache, stats);
        expect(rows).toHaveLength(1);
        forced.push(rows[0]);
      }
      expect(cache.length).toBe(p.prompt.length + n - 1);
      let dSteps = 0;
      for (let k = 0; k < n; k++) {
        const s = p.steps[k];
        const d = maxAbsDiffAt(forced[k], s.top10_ids, s.top10_logits);
        expect(d, `steps[${k}] top-10 max |Δ|`).toBeLessThanOrEqual(tol);
        expect(argmax(forced[k]), `steps[${k}] argmax`).toBe(p.continuation[k]);
        expect(argmax(forced[k])).toBe(s.top10_ids[0]);
        dSteps = Math.max(dSteps, d);
      }
      pathStats.set(i, stats);

      // 4. Full recompute of prompt + continuation[:n-1] (fresh cache) == cached path.
      const full = ref.forward([...p.prompt, ...p.continuation.slice(0, n - 1)], 0, ref.newCache());
      let dRecompute = 0;
      for (let k = 0; k < n; k++) dRecompute = Math.max(dRecompute, maxAbsDiff(full[p.prompt.length - 1 + k], forced[k]));
      expect(dRecompute).toBeLessThan(RECOMPUTE_TOL);

      measured.push(
        `${variant} p${i}: last-position max|Δ| ${dLast.toExponential(3)}, steps top-10 max|Δ| ${dSteps.toExponential(3)}, cached-vs-recompute ${dRecompute.toExponential(3)}`,
      );
    });
  });

  it("intermediate stats along the reference paths match the README's description", () => {
    expect(pathStats.size).toBe(3);
    const nTokens = [...pathStats.values()].reduce((a, s) => a + s.tokens, 0);
    for (let l = 0; l < config.nLayers; l++) {
      const counts = new Array<number>(config.nExperts).fill(0);
      let top1Min = Infinity;
      let top1Max = -Infinity;
      let minGap = Infinity;
      for (const s of pathStats.values()) {
        const L = s.layers[l];
        L.expertCounts.forEach((c, e) => (counts[e] += c));
        top1Min = Math.min(top1Min, L.routerTop1.min);
        top1Max = Math.max(top1Max, L.routerTop1.max);
        minGap = Math.min(minGap, L.minRouterLogitGap);
        expect(L.residualRms.mean).toBeGreaterThan(0.1);
        expect(L.residualRms.max).toBeLessThan(100);
        expect(L.moeOutRms.mean).toBeGreaterThan(0.01);
        expect(L.moeOutRms.mean).toBeLessThan(0.2);
        expect(L.attnScores.std).toBeGreaterThan(0.5);
        expect(L.attnScores.std).toBeLessThan(5);
        // query head 0 is sharper (std ≈ 3), so the soft-cap matters
        expect(L.attnScoresPerHead[0].std).toBeGreaterThan(L.attnScores.std);
      }
      expect(counts.reduce((a, b) => a + b, 0)).toBe(nTokens * config.nExpertsUsed);
      expect(counts.every((c) => c > 0), `every expert of layer ${l} used`).toBe(true);
      expect(top1Min).toBeGreaterThanOrEqual(1 / config.nExperts);
      expect(top1Min).toBeGreaterThan(0.19);
      expect(top1Max).toBeLessThan(0.998);
      // README: k-th and (k+1)-th router logits differ by ≥ 2e-3 on the reference paths
      expect(minGap).toBeGreaterThanOrEqual(2e-3 * 0.9);
    }
  });
});

describe.skipIf(!HAVE_REFERENCE)("GrokReference API", () => {
  let ref: GrokReference;
  let close: (() => void) | undefined;
  beforeAll(() => {
    const opened = openModel(referenceGguf("f32", DIR));
    close = () => opened.close();
    ref = new GrokReference(opened.config, opened.weights);
  });
  afterAll(() => close?.());

  it("rejects a startPos that does not match the cache, and bad token ids", () => {
    const cache = ref.newCache();
    ref.forward([1, 5], 0, cache);
    expect(() => ref.forward([6], 1, cache)).toThrow(/startPos/);
    expect(() => ref.forward([ref.config.vocabSize], 2, cache)).toThrow(/token id/);
    expect(() => ref.forward([-1], 0, ref.newCache())).toThrow(/token id/);
  });

  it("splitting a prefill into chunks gives the same logits", () => {
    const prompt = loadReferencePrompts(DIR)[2];
    const whole = ref.forward(prompt, 0, ref.newCache());
    const cache = ref.newCache();
    const parts = [...ref.forward(prompt.slice(0, 7), 0, cache), ...ref.forward(prompt.slice(7, 20), 7, cache), ...ref.forward(prompt.slice(20), 20, cache)];
    expect(parts).toHaveLength(whole.length);
    for (let t = 0; t < whole.length; t++) expect(maxAbsDiff(parts[t], whole[t])).toBeLessThan(RECOMPUTE_TOL);
  });

  it("is discriminating: README's 'common mistakes' move p1 beyond tolerance by the documented amounts", () => {
    const p1 = loadReferenceResults("f32", DIR).prompts[1];
    const cfg = ref.config;
    const weightsOf = openModel(referenceGguf("f32", DIR));
    try {
      const noCap = new GrokReference({ ...cfg, attnSoftcap: 0 }, weightsOf.weights).logitsFor(p1.prompt);
      const eps6 = new GrokReference({ ...cfg, rmsEps: 1e-6 }, weightsOf.weights).logitsFor(p1.prompt);
      // README table: no soft-cap 0.23, eps 1e-6 0.089 (p1)
      expect(maxAbsDiff(noCap, p1.lastLogits)).toBeCloseTo(0.23, 2);
      expect(maxAbsDiff(eps6, p1.lastLogits)).toBeCloseTo(0.089, 2);
    } finally {
      weightsOf.close();
    }
  });

  it("argmax ties go to the lowest index; greedy(…, 0) is empty", () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(argmax([5])).toBe(0);
    expect(ref.greedy([1], 0)).toEqual([]);
  });
});

afterAll(() => {
  if (measured.length) console.log(`GrokReference vs public reference:\n  ${measured.join("\n  ")}`);
});
