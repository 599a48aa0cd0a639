/**
 * The engine against the independent public reference (float64 implementation
 * of SPEC.md's f32 target, ../shared/grok-1/reference): last-prompt logits,
 * 16 greedy tokens via the KV cache, and teacher-forced top-10 logits.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine, loadConfigJson, openWeights } from "../../model/index.js";
import { loadReferencePrompts, loadReferenceResults, maxAbsDiff, maxAbsDiffAt, publicReferenceDir, readF32LE } from "../reference/compare.js";

const dir = publicReferenceDir();
const cases = [
  { variant: "f32", file: "grok-public-b.f32.gguf", tol: 2e-3 },
  { variant: "f32", file: "grok-public-b.safetensors", tol: 2e-3 },
  // the exact 8-bit path (the default int8-activation path: test/engine/own-reference.test.ts)
  { variant: "q8_0", file: "grok-public-b.q8_0.gguf", tol: 1e-2 },
] as const;

describe.each(cases)("public reference $file", ({ variant, file, tol }) => {
  let engine: Engine;
  beforeAll(async () => {
    const reader = openWeights(`${dir}/${file}`);
    engine = await Engine.create(loadConfigJson(`${dir}/config.json`), reader, { exactQ8: variant === "q8_0" });
  });
  afterAll(async () => engine?.close());

  const prompts = loadReferencePrompts(dir);
  const results = loadReferenceResults(variant, dir);

  it.each([0, 1, 2])("prompt p%i: last logits, greedy path and teacher-forced steps", async (i) => {
    const expected = results.prompts[i]!;
    const seq = engine.newSequence();
    let logits = await engine.forward([{ seq, tokens: prompts[i]! }]);
    expect(maxAbsDiff(logits, readF32LE(`${dir}/${variant}/p${i}.logits.bin`))).toBeLessThanOrEqual(tol);
    const got: number[] = [];
    for (let k = 0; k < expected.continuation.length; k++) {
      const step = expected.steps[k]!;
      expect(maxAbsDiffAt(logits, step.top10_ids, step.top10_logits)).toBeLessThanOrEqual(tol);
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
      got.push(best);
      // teacher forcing: feed the reference token so one early slip cannot hide the rest
      logits = await engine.forward([{ seq, tokens: [expected.continuation[k]!] }]);
    }
    expect(got).toEqual(expected.continuation);
    engine.release(seq);
  });
});
