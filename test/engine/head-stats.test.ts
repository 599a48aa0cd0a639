/**
 * The head graph's per-row statistics against the logits it returns: max and min exact, the
 * log-sum-exp within f32 summation error of an f64 one; and the engine's greedy step (which samples
 * with them) picks the argmax of the logits with the logprob of an f64 log-softmax.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { argmax, Engine, HeadBlock, headWeights, logprobOf, openModel, presetConfig, stepRows, type ModelConfig } from "../../model/index.js";
import { generateModel } from "../../factory/index.js";

const root = mkdtempSync(join(tmpdir(), "moe-head-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("head statistics (max, min, log-sum-exp)", () => {
  const cfg: ModelConfig = presetConfig("grok-1-tiny");
  const dirs: Record<string, string> = {};
  beforeAll(() => {
    for (const dtype of ["f32", "q8_0"] as const) {
      dirs[dtype] = join(root, dtype);
      generateModel({ config: cfg, outDir: dirs[dtype]!, format: "gguf", dtype, seed: 5 });
    }
  });

  for (const dtype of ["f32", "q8_0"] as const)
    it(`${dtype}: match the logits of every row`, async () => {
      const m = openModel(dirs[dtype]!);
      const head = await HeadBlock.create(m.config, headWeights(m.weights, m.config));
      try {
        const R = 3;
        const D = m.config.dModel;
        const V = m.config.vocabSize;
        const x = Float32Array.from({ length: R * D }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
        const out = await head.runWithStats(x);
        expect(out.logits.length).toBe(R * V);
        for (let r = 0; r < R; r++) {
          const row = out.logits.subarray(r * V, (r + 1) * V);
          let max = -Infinity;
          let min = Infinity;
          for (const v of row) (max = Math.max(max, v)), (min = Math.min(min, v));
          let s = 0;
          for (const v of row) s += Math.exp(v - max);
          expect(out.max[r]).toBe(max);
          expect(out.min[r]).toBe(min);
          expect(Math.abs(out.lse[r]! - (max + Math.log(s)))).toBeLessThan(1e-5 * Math.max(1, Math.abs(max)));
        }
      } finally {
        await head.close();
        m.close();
      }
    });

  it("a greedy step samples the argmax of the logits, with an f64 log-softmax's logprob", async () => {
    const m = openModel(dirs.f32!);
    const engine = await Engine.create(m.config, m.weights);
    try {
      const V = m.config.vocabSize;
      let pos = 0;
      let tokens = [5, 17, 33, 2, 90];
      for (let step = 0; step < 6; step++) {
        const out = await engine.step(stepRows([{ seq: 1, pos, tokens, prompt: step === 0, wantLogits: true }]));
        const logits = out.logits!.values;
        const s = out.sampled![0]!;
        expect(s.token).toBe(argmax(logits));
        expect(s.logprob).toBeCloseTo(logprobOf(logits, s.token), 5);
        expect(logits.length).toBe(V);
        pos += tokens.length;
        tokens = [s.token];
      }
    } finally {
      await engine.close();
      m.close();
    }
  });
});
