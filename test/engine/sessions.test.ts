/**
 * Session settings for threads > 1 (model/blocks/session.ts): spinning inside a run, per-kind thread
 * counts, and the one-thread session small blocks get for runs of few rows. None of them may change a
 * number: an engine on 2 threads (with or without them) computes the same logits as on 1.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createGraphSession, Elem, Engine, GraphBuilder, openModel, presetConfig, sessionOptions, type ComputeOptions } from "../../model/index.js";
import { generateModel } from "../../factory/index.js";

const root = mkdtempSync(join(tmpdir(), "moe-sessions-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Extra = { session: { force_spinning_stop?: string; intra_op: { allow_spinning: string; spin_duration_us?: string } } };

describe("session options", () => {
  it("spinning only with more than one thread, stopped at the end of each run", () => {
    const spin = sessionOptions({ threads: 2, spinning: true, spinDurationUs: 50 });
    expect(spin.intraOpNumThreads).toBe(2);
    expect((spin.extra as Extra).session).toEqual({ force_spinning_stop: "1", intra_op: { allow_spinning: "1", spin_duration_us: "50" }, inter_op: { allow_spinning: "0" } });
    const one = sessionOptions({ threads: 1, spinning: true });
    expect((one.extra as Extra).session).toEqual({ intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } });
    expect((sessionOptions({ threads: 2 }).extra as Extra).session.intra_op.allow_spinning).toBe("0");
  });

  it("a block kind's thread count overrides threads", () => {
    const o: ComputeOptions = { threads: 4, blockThreads: { attention: 1 } };
    expect(sessionOptions(o, "attention").intraOpNumThreads).toBe(1);
    expect(sessionOptions(o, "head").intraOpNumThreads).toBe(4);
    expect(sessionOptions(o).intraOpNumThreads).toBe(4);
  });
});

describe("the one-thread session of small blocks", () => {
  /** y = x·Wᵀ with W [out, in], embedded or (maxInitializerBytes exceeded) fed as a graph input. */
  function gemm(out: number, inp: number, asInput: boolean) {
    const g = new GraphBuilder("gemm");
    const x = g.input("x", Elem.FLOAT, ["R", inp]);
    const data = new Float32Array(out * inp).map((_, i) => Math.sin(i));
    const w = asInput ? g.weightInput("w", data, [out, inp]) : g.f32("w", data, [out, inp]);
    g.output("y", g.op("Gemm", [x, w], { transB: 1 }), Elem.FLOAT, ["R", out]);
    return g.build();
  }

  it("counts every weight of the graph, the ones fed as inputs too (full-width f32 matrices are inputs)", async () => {
    const cases = [
      { graph: gemm(64, 64, false), single: true }, // 16 KiB embedded: small
      { graph: gemm(64, 64, true), single: true }, // 16 KiB as an input: small
      { graph: gemm(2048, 1024, false), single: false }, // 8 MiB embedded
      { graph: gemm(2048, 1024, true), single: false }, // 8 MiB as an input: not small either
    ];
    for (const c of cases) {
      const s = await createGraphSession(c.graph, { threads: 2 });
      try {
        expect(s.session.hasSingleThread).toBe(c.single);
      } finally {
        await s.session.release();
      }
    }
    const one = await createGraphSession(gemm(64, 64, true), { threads: 1 });
    expect(one.session.hasSingleThread).toBe(false);
    await one.session.release();
  });
});

describe("engine on 2 threads", () => {
  it("grok-1-tiny f32 and q8_0 (exact): prefill and one-row decode give the same logits as 1 thread, with every session setting", async () => {
    const cfg = presetConfig("grok-1-tiny");
    for (const [dtype, base] of [["f32", {}], ["q8_0", { exactQ8: true }]] as const) {
      const dir = join(root, dtype);
      generateModel({ config: cfg, outDir: dir, format: "gguf", dtype, seed: 3 });
      const m = openModel(dir);
      const settings: ComputeOptions[] = [
        { threads: 1 },
        { threads: 2 }, // default: one-thread sessions for runs of <= 4 rows
        { threads: 2, singleThreadRows: 0, spinning: true },
        { threads: 2, singleThreadRows: 64, spinning: true, blockThreads: { head: 1 } },
      ];
      const engines = [];
      try {
        for (const s of settings) engines.push(await Engine.create(m.config, m.weights, { ...base, ...s }));
        const prompt = Array.from({ length: 24 }, (_, i) => 4 + ((i * 7919) % (cfg.vocabSize - 4)));
        const outs: Float32Array[][] = [];
        for (const e of engines) {
          const seq = e.newSequence();
          const got = [await e.forward([{ seq, tokens: prompt }], { allPositions: true })];
          for (const t of [5, 9, 11]) got.push(await e.forward([{ seq, tokens: [t] }]));
          outs.push(got);
        }
        for (const o of outs.slice(1)) for (let i = 0; i < o.length; i++) expect(Array.from(o[i]!)).toEqual(Array.from(outs[0]![i]!));
      } finally {
        for (const e of engines) await e.close();
        m.close();
      }
    }
  });
});
