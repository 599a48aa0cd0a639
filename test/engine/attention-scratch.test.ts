/**
 * Batched attention runs copy their inputs into scratch reused from run to run (model/blocks/scratch.ts):
 * a run after a larger one (the scratch larger than it needs, full of the other run's data, or of NaN)
 * gives, bit for bit, the rows and cache contents of a block whose scratch is fresh; runs in flight at
 * once each get their own set; the pool grows only as much as it must and trims.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateModel } from "../../factory/index.js";
import { AttentionBlock, attentionWeights, GrowBuffer, LayerKv, openModel, presetConfig, ScratchPool, type AttentionOutput, type KvDtype, type ModelConfig } from "../../model/index.js";

const root = mkdtempSync(join(tmpdir(), "moe-attn-scratch-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const bits = (a: Float32Array | Uint16Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Deterministic residual rows [n, D] (seeded by k). */
const rows = (n: number, D: number, k: number) => new Float32Array(n * D).map((_, i) => Math.sin(i * 0.37 + k * 1.7) * 2);

describe("batched attention with reused scratch", () => {
  const cfg: ModelConfig = { ...presetConfig("grok-1-tiny"), nLayers: 1 };
  let dir: string;
  beforeAll(() => {
    dir = join(root, "m");
    generateModel({ config: cfg, outDir: dir, format: "gguf", dtype: "f32", seed: 11 });
  });

  /** A block of layer 0 with `pool` (a pool of its own when absent). */
  async function block(m: ReturnType<typeof openModel>, kvDtype: KvDtype, pool?: ScratchPool): Promise<AttentionBlock> {
    return AttentionBlock.create(m.config, attentionWeights(m.weights, m.config, 0), { kvDtype }, pool);
  }

  /** Caches of the given lengths, filled by runs of one (read in place: no scratch involved). */
  async function caches(b: AttentionBlock, lens: readonly number[], seed: number): Promise<LayerKv[]> {
    const out: LayerKv[] = [];
    for (const [i, n] of lens.entries()) {
      const kv = b.newCache();
      if (n > 0) await b.run([{ kv, x: rows(n, cfg.dModel, seed + i) }]);
      out.push(kv);
    }
    return out;
  }

  function expectSame(got: AttentionOutput, want: AttentionOutput, kvGot: readonly LayerKv[], kvWant: readonly LayerKv[]): void {
    expect(got.h.length).toBe(want.h.length);
    expect(bits(got.h).equals(bits(want.h))).toBe(true);
    expect(bits(got.m).equals(bits(want.m))).toBe(true);
    expect(got.h.some(Number.isNaN) || got.m.some(Number.isNaN)).toBe(false);
    kvGot.forEach((kv, i) => {
      expect([i, kv.len, kv.capacity]).toEqual([i, kvWant[i]!.len, kvWant[i]!.capacity]);
      expect(bits(kv.keysT).equals(bits(kvWant[i]!.keysT))).toBe(true);
      expect(bits(kv.values).equals(bits(kvWant[i]!.values))).toBe(true);
    });
  }

  /** Fill every byte the pool's sets hold with NaN (f32 and f16 NaN patterns alike: 0x7fc0_7fc0). */
  async function poison(pool: ScratchPool): Promise<void> {
    await pool.lend(async (s) => {
      for (const g of [s.x, s.keys, s.values]) new Uint16Array(g.u16(g.bytes / 2).buffer).fill(0x7fc0);
    });
  }

  it.each(["f32", "f16"] as const)("%s: a run after a larger one = a fresh block's run, bit for bit (stale data, then NaN in the scratch)", async (kvDtype) => {
    const m = openModel(dir);
    const pool = new ScratchPool();
    const reused = await block(m, kvDtype, pool);
    // the same weights, its scratch dropped before every run: every run gets fresh (zeroed) buffers, as before the pool
    const freshPool = new ScratchPool();
    const fresh = await block(m, kvDtype, freshPool);
    const D = cfg.dModel;
    try {
      // a larger batch first: 5 sequences, caches up to 60 long, ragged prompts up to 9 tokens
      const big = await caches(reused, [60, 33, 0, 47, 12], 100);
      await reused.run(big.map((kv, i) => ({ kv, x: rows([9, 3, 7, 1, 9][i]!, D, 200 + i) })));
      const grown = pool.bytes;
      expect(pool.sets).toBe(1);
      // the target: 3 sequences (cached 3, 17 and 0 positions) with 1, 4 and 2 new tokens, a decode step, and both again over NaN
      const lens = [3, 17, 0];
      const kvR = await caches(reused, lens, 300);
      const kvF = await caches(fresh, lens, 300);
      for (const [k, [label, T]] of ([["ragged", [1, 4, 2]], ["decode", [1, 1, 1]], ["poisoned decode", [1, 1, 1]], ["poisoned ragged", [3, 1, 2]]] as const).entries()) {
        if (label.startsWith("poisoned")) await poison(pool);
        const x = T.map((n, i) => rows(n, D, 400 + 10 * k + i));
        freshPool.trim();
        const want = await fresh.run(kvF.map((kv, i) => ({ kv, x: x[i]! })));
        const got = await reused.run(kvR.map((kv, i) => ({ kv, x: x[i]! })));
        expect([label, got.h.length]).toEqual([label, T.reduce((a, n) => a + n, 0) * D]);
        expectSame(got, want, kvR, kvF);
      }
      // the scratch was reused, never regrown: the larger batch's buffers fit every later run
      expect([pool.sets, pool.bytes]).toEqual([1, grown]);
    } finally {
      await reused.close();
      await fresh.close();
      m.close();
    }
  });

  it("runs in flight at once get a set each and give the rows of runs one after another", async () => {
    const m = openModel(dir);
    const pool = new ScratchPool();
    const shared = await block(m, "f32", pool);
    const alone = await block(m, "f32");
    const D = cfg.dModel;
    try {
      const [a, b] = [await caches(shared, [20, 5], 500), await caches(shared, [9, 31, 2], 600)];
      const [a2, b2] = [await caches(alone, [20, 5], 500), await caches(alone, [9, 31, 2], 600)];
      const xa = [rows(2, D, 1), rows(1, D, 2)];
      const xb = [rows(1, D, 3), rows(1, D, 4), rows(3, D, 5)];
      // grow the pool's set past what either run needs (so that sharing it would go unnoticed by no regrowth)
      await shared.run((await caches(shared, [40, 40, 40, 40], 700)).map((kv, i) => ({ kv, x: rows(4, D, 800 + i) })));
      expect(pool.sets).toBe(1);
      // both start before either's session runs: each writes its inputs before the other's run reads its own
      const [ga, gb] = await Promise.all([shared.run(a.map((kv, i) => ({ kv, x: xa[i]! }))), shared.run(b.map((kv, i) => ({ kv, x: xb[i]! })))]);
      const wa = await alone.run(a2.map((kv, i) => ({ kv, x: xa[i]! })));
      const wb = await alone.run(b2.map((kv, i) => ({ kv, x: xb[i]! })));
      expectSame(ga, wa, a, a2);
      expectSame(gb, wb, b, b2);
      expect(pool.sets).toBe(2);
      // one after another again: the pool lends a set it holds
      await shared.run(a.map((kv) => ({ kv, x: rows(1, D, 7) })));
      expect(pool.sets).toBe(2);
      pool.trim();
      expect([pool.sets, pool.bytes]).toEqual([0, 0]);
    } finally {
      await shared.close();
      await alone.close();
      m.close();
    }
  });

  it("GrowBuffer grows at least 1.5× and keeps what it holds otherwise", () => {
    const g = new GrowBuffer();
    const a = g.f32(100);
    a.fill(3);
    expect(g.bytes).toBe(400);
    expect(g.f32(50)[49]).toBe(3); // the same memory
    g.f32(101);
    expect(g.bytes).toBe(600);
    expect(g.u16(300).length).toBe(300);
    g.u16(1000);
    expect(g.bytes).toBe(2000);
  });
});
