/**
 * The layer-of-experts session (model/blocks/expert-layer-block.ts): one onnxruntime session holding a
 * layer's experts must give, per expert, exactly the rows of that expert's own session (f32, Q8_0 with
 * int8 activations, the exact 8-bit path; experts with 0 rows; rows in any order), with the sequential
 * and the parallel executor; the engine built on it must give exactly the per-expert engine's logits and
 * tokens; bad row lists fail with a clear error.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLayerSessions, Engine, ExpertBlock, ExpertLayerBlock, expertSessionsOf, expertWeightBytes, expertWeights, gatherRows, mulberry32, openModel, presetConfig, type ComputeOptions, type LoadedModel } from "../../model/index.js";
import { generateModel } from "../../factory/index.js";
import { engineTrace } from "./engine-trace.js";

const root = mkdtempSync(join(tmpdir(), "moe-expert-layer-"));
const cfg = presetConfig("grok-1-tiny");
const models = new Map<string, LoadedModel>();

beforeAll(() => {
  for (const dtype of ["f32", "q8_0"] as const) {
    generateModel({ config: cfg, outDir: join(root, dtype), format: "gguf", dtype, seed: 11 });
    models.set(dtype, openModel(join(root, dtype)));
  }
});

afterAll(() => {
  for (const m of models.values()) m.close();
  rmSync(root, { recursive: true, force: true });
});

/** The variants: model dtype and compute options. */
const VARIANTS: readonly [string, "f32" | "q8_0", ComputeOptions][] = [
  ["f32", "f32", {}],
  ["Q8_0 int8", "q8_0", {}],
  ["Q8_0 exact", "q8_0", { exactQ8: true }],
];

/** x [R, D] of O(1) values. */
function rows(R: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: R * cfg.dModel }, () => (r() - 0.5) * 3);
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe("ExpertLayerBlock", () => {
  it.each(VARIANTS)("%s: every expert's rows equal its own session's bit for bit (0 rows, 1 row, many, any order), sequential and parallel", async (_name, dtype, base) => {
    const m = models.get(dtype)!;
    const D = cfg.dModel;
    const layer = 1;
    const experts = [0, 1, 2, 3, 4, 5, 6, 7];
    const own = await Promise.all(experts.map((e) => ExpertBlock.create(expertWeights(m.weights, layer, e), { ...base, threads: 1 })));
    const fused = [
      await ExpertLayerBlock.create(experts.map((e) => ({ expert: e, weights: expertWeights(m.weights, layer, e) })), { ...base, threads: 1 }),
      await ExpertLayerBlock.create(experts.map((e) => ({ expert: e, weights: expertWeights(m.weights, layer, e) })), { ...base, threads: 2, expertExecutor: "parallel" }),
      // a host's share: some of the layer's experts, in any order
      await ExpertLayerBlock.create([6, 2, 5].map((e) => ({ expert: e, weights: expertWeights(m.weights, layer, e) })), { ...base, threads: 1 }),
    ];
    try {
      expect(fused.map((f) => f.parallel)).toEqual([false, true, false]);
      const R = 37;
      const x = rows(R, 3);
      const cases: { experts: number[]; rows: number[][] }[] = [
        // decode-like: two experts with one row each, the other six get 0 rows
        { experts: [2, 6], rows: [[0], [0]] },
        // every expert, uneven, rows out of order and repeated, one expert empty
        { experts: [5, 0, 1, 2, 3, 4, 6, 7], rows: [[36, 1, 2], Array.from({ length: 20 }, (_, i) => i), [], [3, 3, 7], [30], [9, 8, 7, 6, 5], [0, 36], Array.from({ length: R }, (_, i) => R - 1 - i)] },
        // no rows at all for the experts listed
        { experts: [6, 2], rows: [[], []] },
      ];
      for (const c of cases) {
        const idx = c.rows.map((r) => Int32Array.from(r));
        const want = new Map<number, number[]>();
        for (const [k, e] of c.experts.entries()) want.set(e, bits(idx[k]!.length ? await own[e]!.run(gatherRows(x, D, idx[k]!)) : new Float32Array(0)));
        for (const f of fused) {
          const held = c.experts.map((e, k) => [e, idx[k]!] as const).filter(([e]) => f.holds(e));
          const got = await f.runPerExpert(x, { experts: held.map(([e]) => e), rows: held.map(([, r]) => r) });
          expect([...got.keys()].sort()).toEqual(held.map(([e]) => e).sort());
          for (const [e, y] of got) {
            expect(y.length).toBe(idx[c.experts.indexOf(e)]!.length * D);
            expect(bits(y)).toEqual(want.get(e));
          }
        }
      }
      // the whole output: experts in the session's order, each in its indices' order
      const y = await fused[2]!.run(x, { experts: [2, 6], rows: [Int32Array.from([4, 1]), Int32Array.from([0])] });
      expect(bits(y)).toEqual([...bits(await own[6]!.run(gatherRows(x, D, Int32Array.from([0])))), ...bits(await own[2]!.run(gatherRows(x, D, Int32Array.from([4, 1]))))]);
      expect(y.some((v) => v !== 0)).toBe(true);
    } finally {
      for (const b of [...own, ...fused]) await b.close();
    }
  });

  it("buildLayerSessions splits a layer's experts by weight bytes (consecutive, at least one each); each part answers exactly", async () => {
    const m = models.get("q8_0")!;
    const load = (e: number) => expertWeights(m.weights, 2, e);
    const one = expertWeightBytes(load(0));
    expect(one).toBeGreaterThan(0);
    const x = rows(9, 4);
    for (const [max, want] of [
      [Infinity, [[0, 1, 2, 3, 4, 5, 6, 7]]],
      [2.5 * one, [[0, 1], [2, 3], [4, 5], [6, 7]]],
      [0, [[0], [1], [2], [3], [4], [5], [6], [7]]],
    ] as const) {
      const parts = await buildLayerSessions([0, 1, 2, 3, 4, 5, 6, 7], load, { threads: 1 }, max);
      try {
        expect(parts.map((p) => p.experts)).toEqual(want);
        for (const p of parts) {
          const idx = p.experts.map((_, i) => Int32Array.from([i, 8 - i]));
          const got = await p.runPerExpert(x, { experts: [...p.experts], rows: idx });
          for (const [i, e] of p.experts.entries()) {
            const ref = await ExpertBlock.create(load(e), { threads: 1 });
            expect(bits(got.get(e)!)).toEqual(bits(await ref.run(gatherRows(x, cfg.dModel, idx[i]!))));
            await ref.close();
          }
        }
      } finally {
        for (const p of parts) await p.close();
      }
    }
  });

  it("rejects an expert it does not hold, an expert listed twice, a row outside x, and an empty or repeated expert list at build", async () => {
    const m = models.get("f32")!;
    const w = (e: number) => ({ expert: e, weights: expertWeights(m.weights, 0, e) });
    await expect(ExpertLayerBlock.create([])).rejects.toThrow(/no experts/);
    await expect(ExpertLayerBlock.create([w(1), w(1)])).rejects.toThrow(/listed twice/);
    const b = await ExpertLayerBlock.create([w(1), w(3)]);
    try {
      const x = rows(4, 1);
      await expect(b.run(x, { experts: [2], rows: [Int32Array.from([0])] })).rejects.toThrow(/expert 2 is not in this session \(holds 1, 3\)/);
      await expect(b.run(x, { experts: [1, 1], rows: [Int32Array.from([0]), Int32Array.from([1])] })).rejects.toThrow(/expert 1 is listed twice/);
      await expect(b.run(x, { experts: [3], rows: [Int32Array.from([4])] })).rejects.toThrow(/row index 4 is outside \[0, 4\)/);
      await expect(b.run(x, { experts: [3], rows: [Int32Array.from([-1])] })).rejects.toThrow(/row index -1/);
    } finally {
      await b.close();
    }
  });
});

describe("engine on layer sessions", () => {
  it("defaults: layer sessions, except on the exact 8-bit path; an explicit setting wins", () => {
    expect(expertSessionsOf({})).toBe("layer");
    expect(expertSessionsOf({ exactQ8: true })).toBe("expert");
    expect(expertSessionsOf({ exactQ8: true, dequantizeQ8: true })).toBe("layer");
    expect(expertSessionsOf({ exactQ8: true, expertSessions: "layer" })).toBe("layer");
    expect(expertSessionsOf({ expertSessions: "expert" })).toBe("expert");
  });

  it.each(VARIANTS)("%s: prefill, decode and greedy steps equal the per-expert engine's bit for bit, at 1 and 2 threads", async (_name, dtype, base) => {
    const m = models.get(dtype)!;
    const perExpert = await Engine.create(m.config, m.weights, { ...base, threads: 1, expertSessions: "expert" });
    const layered = [
      await Engine.create(m.config, m.weights, { ...base, threads: 1, expertSessions: "layer" }),
      await Engine.create(m.config, m.weights, { ...base, threads: 2, expertSessions: "layer", expertExecutor: "parallel" }),
      await Engine.create(m.config, m.weights, { ...base, threads: 2, expertSessions: "layer", expertExecutor: "sequential" }),
    ];
    try {
      expect(perExpert.moe.layerSessions).toBe(false);
      const want = await engineTrace(perExpert, cfg.vocabSize);
      expect(want.tokens.flat().every((t) => Number.isInteger(t) && t >= 0)).toBe(true);
      for (const e of layered) {
        expect(e.moe.layerSessions).toBe(true);
        const got = await engineTrace(e, cfg.vocabSize);
        expect(got.tokens).toEqual(want.tokens);
        expect(got.logits.length).toBe(want.logits.length);
        for (let i = 0; i < want.logits.length; i++) expect(got.logits[i]).toEqual(want.logits[i]);
        expect(e.moe.counts).toEqual(perExpert.moe.counts);
      }
    } finally {
      await perExpert.close();
      for (const e of layered) await e.close();
    }
  });
});
