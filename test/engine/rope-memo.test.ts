/**
 * RoPE tables once per step (model/blocks/rope.ts RopeMemo): the memo returns ropeTables' values, reuses
 * them for the same positions and recomputes for others; a LayerStack step of several layers computes
 * them once, and its rows equal, bit for bit, those of a stack that computes them in every layer.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateModel } from "../../factory/index.js";
import { LayerStack, LocalMoe, openModel, presetConfig, RopeMemo, ropeTables } from "../../model/index.js";

const root = mkdtempSync(join(tmpdir(), "moe-rope-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The previous behaviour: tables computed afresh for every layer. */
class EveryLayer extends RopeMemo {
  override tables(positions: Float64Array): { c: Float32Array; s: Float32Array } {
    this.computed++;
    return ropeTables(positions, this.headDim, this.base);
  }
}

describe("RopeMemo", () => {
  it("returns ropeTables' values, once per distinct positions (compared by content)", () => {
    const memo = new RopeMemo(32, 10000);
    const p = Float64Array.of(0, 1, 2, 7, 3);
    const t = memo.tables(p);
    const want = ropeTables(p, 32, 10000);
    expect(bytes(t.c).equals(bytes(want.c))).toBe(true);
    expect(bytes(t.s).equals(bytes(want.s))).toBe(true);
    expect(memo.tables(Float64Array.from(p))).toBe(t); // another array, same values
    expect(memo.computed).toBe(1);
    p[3] = 4; // the caller's array changing does not fool it
    const u = memo.tables(p);
    expect(u).not.toBe(t);
    expect(bytes(u.c).equals(bytes(ropeTables(p, 32, 10000).c))).toBe(true);
    expect(memo.tables(Float64Array.of(0, 1, 2, 4))).not.toBe(u); // a prefix is other positions
    expect(memo.computed).toBe(3);
  });
});

describe("a LayerStack step", () => {
  it("computes the tables once for all its layers, with the same rows as computing them per layer", async () => {
    const cfg = { ...presetConfig("grok-1-tiny"), nLayers: 3 };
    const dir = join(root, "m");
    generateModel({ config: cfg, outDir: dir, format: "gguf", dtype: "f32", seed: 5 });
    const m = openModel(dir);
    const L = m.config.nLayers;
    const once = await LayerStack.create(m.config, m.weights, 0, L);
    const every = await LayerStack.create(m.config, m.weights, 0, L);
    const moe = await LocalMoe.create(m.config, m.weights, 0, L);
    try {
      const D = m.config.dModel;
      const rows = (n: number, k: number) => new Float32Array(n * D).map((_, i) => Math.sin(i * 0.37 + k));
      const kvOnce = [once.newCaches(), once.newCaches()];
      const kvEvery = [every.newCaches(), every.newCaches()];
      // a prefill of two sequences of 5 and 3 tokens (padded positions included), then two decode steps
      for (const [step, lens] of [[0, [5, 3]], [1, [1, 1]], [2, [1, 1]]] as const) {
        const x = lens.map((n, b) => rows(n, step * 10 + b));
        const a = new RopeMemo(m.config.headDim, m.config.ropeBase);
        const b = new EveryLayer(m.config.headDim, m.config.ropeBase);
        const got = await once.forward(x.map((xb, i) => ({ kv: kvOnce[i]!, x: xb })), moe, a);
        const want = await every.forward(x.map((xb, i) => ({ kv: kvEvery[i]!, x: xb })), moe, b);
        expect([step, a.computed, b.computed]).toEqual([step, 1, L]);
        expect(bytes(got).equals(bytes(want))).toBe(true);
      }
    } finally {
      await once.close();
      await every.close();
      await moe.close();
      m.close();
    }
  });
});
