/**
 * The KV cache: LayerKv's layouts, growth and f16 storage; the engine with an f16 cache against the
 * float64 reference (tolerance from f16 rounding, measured); and that a sequence gives the same logits
 * whether its cache is read in place (a batch of one) or copied into a batch, and whether a prompt
 * goes in one piece or token by token.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine, LayerKv, openModel, presetConfig } from "../../model/index.js";
import { generateModel } from "../../factory/index.js";
import { GrokReference } from "../reference/grok-ref.js";
import { greedyAgainstReference } from "../reference/greedy.js";
import { relMaxError } from "../reference/compare.js";

const root = mkdtempSync(join(tmpdir(), "moe-kv-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("LayerKv", () => {
  const KVH = 2;
  const hd = 3;
  /** Graph-layout new keys [KVH, hd, T] and values [KVH, T, hd] whose value encodes (pos, head, dim). */
  function newKv(first: number, T: number, n: number): { kT: Float32Array; v: Float32Array } {
    const kT = new Float32Array(KVH * hd * T).fill(-1);
    const v = new Float32Array(KVH * T * hd).fill(-1);
    for (let t = 0; t < n; t++)
      for (let h = 0; h < KVH; h++)
        for (let d = 0; d < hd; d++) {
          kT[(h * hd + d) * T + t] = (first + t) * 100 + h * 10 + d;
          v[(h * T + t) * hd + d] = -((first + t) * 100 + h * 10 + d);
        }
    return { kT, v };
  }

  it("appends in the attention layouts, grows by doubling and keeps what it holds", () => {
    const kv = new LayerKv(KVH, hd, "f32", 4);
    let pos = 0;
    for (const [T, n] of [[3, 3], [4, 2], [1, 1], [5, 5]] as const) {
      const { kT, v } = newKv(pos, T, n);
      kv.append(kT, v, 0, T, n);
      pos += n;
    }
    expect(kv.len).toBe(11);
    expect(kv.capacity).toBe(16);
    const P = 12;
    const keys = new Float32Array(KVH * hd * P);
    const vals = new Float32Array(KVH * P * hd);
    kv.copyKeysT(keys, 0, P);
    kv.copyValues(vals, 0, P);
    for (let p = 0; p < 11; p++)
      for (let h = 0; h < KVH; h++)
        for (let d = 0; d < hd; d++) {
          expect(keys[(h * hd + d) * P + p]).toBe(p * 100 + h * 10 + d);
          expect(vals[(h * P + p) * hd + d]).toBe(-(p * 100 + h * 10 + d));
          // the in-place buffers hold the same at the cache's own capacity
          expect(kv.keysT[(h * hd + d) * kv.capacity + p]).toBe(p * 100 + h * 10 + d);
          expect(kv.values[(h * kv.capacity + p) * hd + d]).toBe(-(p * 100 + h * 10 + d));
        }
  });

  it("f16 holds half the bytes; a cache without a type takes its block's, only while empty", () => {
    expect(new LayerKv(8, 128, "f16").bytes * 2).toBe(new LayerKv(8, 128, "f32").bytes);
    const auto = new LayerKv(KVH, hd);
    auto.adopt("f16");
    expect(auto.dtype).toBe("f16");
    expect(auto.keysT).toBeInstanceOf(Uint16Array);
    const full = new LayerKv(KVH, hd);
    const { kT, v } = newKv(0, 1, 1);
    full.adopt("f32");
    full.append(kT, v, 0, 1, 1);
    expect(() => full.adopt("f16")).toThrow(/holds f32 values but the attention block was built for f16/);
  });
});

describe("engine with an f16 KV cache (grok-1-tiny)", () => {
  const cfg = presetConfig("grok-1-tiny");
  let dir: string;
  beforeAll(() => {
    dir = join(root, "tiny-f32");
    generateModel({ config: cfg, outDir: dir, format: "gguf", dtype: "f32", seed: 7 });
  });
  const prompt = (n: number, seed = 1) => {
    let s = seed;
    return [cfg.bosId, ...Array.from({ length: n - 1 }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % (cfg.vocabSize - 4)) + 4)];
  };

  /**
   * Keys and values rounded to f16 move by ≤ 2⁻¹¹ (4.9e-4) relative each; through 4 layers of this
   * random model that measured 1.2–1.7e-3 of max|logit| over 24 steps (seeds 7–9; the f32 cache: 3e-6).
   */
  it("prefill + 24 greedy steps within 5e-3 of the float64 reference (and really rounded: > 1e-5)", async () => {
    const m = openModel(dir);
    const engine = await Engine.create(m.config, m.weights, { kvDtype: "f16" });
    try {
      const ref = new GrokReference(m.config, m.weights);
      const r = await greedyAgainstReference(engine, ref, prompt(13), 24);
      expect(r.mismatches).toEqual([]);
      expect(r.worst).toBeLessThanOrEqual(5e-3);
      expect(r.worst).toBeGreaterThan(1e-5);
    } finally {
      await engine.close();
      m.close();
    }
  });

  /**
   * f32: the same numbers up to f32 rounding of differently shaped matmuls (1e-5). f16: such a
   * 1e-7 difference can flip a key or value to the neighbouring f16 (one step, 2⁻¹¹ relative):
   * measured 4.7e-5 here; the bound is that one f16 step, 5e-4.
   */
  it.each([
    ["f32", 1e-5],
    ["f16", 5e-4],
  ] as const)("%s: a prompt in one piece = token by token; in place (alone) = copied (in a batch)", async (kvDtype, tol) => {
    const m = openModel(dir);
    const engine = await Engine.create(m.config, m.weights, { kvDtype });
    try {
      const p = prompt(40, 3);
      const V = cfg.vocabSize;
      const whole = await engine.forward([{ seq: engine.newSequence(), tokens: p }], { allPositions: true });
      const seq = engine.newSequence();
      for (let i = 0; i < p.length; i++) {
        const row = await engine.forward([{ seq, tokens: [p[i]!] }]);
        expect(relMaxError(row, whole.subarray(i * V, (i + 1) * V))).toBeLessThanOrEqual(tol);
      }
      // in a batch with another sequence, the same sequence's cache is copied: same logits
      const a = engine.newSequence();
      const other = engine.newSequence();
      await engine.forward([{ seq: a, tokens: p.slice(0, 30) }]);
      await engine.forward([{ seq: other, tokens: prompt(7, 9) }]);
      let batch = await engine.forward([{ seq: a, tokens: p.slice(30, 31) }, { seq: other, tokens: [5] }]);
      expect(relMaxError(batch.subarray(0, V), whole.subarray(30 * V, 31 * V))).toBeLessThanOrEqual(tol);
      batch = await engine.forward([{ seq: other, tokens: [6] }, { seq: a, tokens: p.slice(31, 35) }]);
      expect(relMaxError(batch.subarray(V, 2 * V), whole.subarray(34 * V, 35 * V))).toBeLessThanOrEqual(tol);
    } finally {
      await engine.close();
      m.close();
    }
  });
});
