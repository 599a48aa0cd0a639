/**
 * RoPE tables and the causal mask once per step (model/blocks/step-memo.ts StepMemo): the memo returns
 * ropeTables' / causalMask's values, reuses them for the same positions (and past length) and recomputes
 * for others; causalMask against an element-by-element reading of the rule; a LayerStack step of several
 * layers computes each once, and its rows equal, bit for bit, those of a stack that computes them in every
 * layer.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateModel } from "../../factory/index.js";
import { causalMask, LayerStack, LocalMoe, openModel, presetConfig, ropeTables, StepMemo } from "../../model/index.js";

const root = mkdtempSync(join(tmpdir(), "moe-step-memo-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The previous behaviour: tables and mask computed afresh for every layer. */
class EveryLayer extends StepMemo {
  override tables(positions: Float64Array): { c: Float32Array; s: Float32Array } {
    this.computed++;
    return ropeTables(positions, this.headDim, this.base);
  }
  override mask(positions: Float64Array, G: number, T: number, P: number): Float32Array {
    this.masksComputed++;
    return causalMask(Array.from({ length: positions.length / T }, (_, b) => positions[b * T]!), G, T, P);
  }
}

describe("causalMask", () => {
  it("opens, for row t of item b, its cached positions and its own new positions up to t (every query head alike)", () => {
    const lens = [2, 0, 5];
    const [G, T, P] = [3, 4, 6];
    const S = P + T;
    const m = causalMask(lens, G, T, P);
    expect(m.length).toBe(lens.length * G * T * S);
    for (let b = 0; b < lens.length; b++)
      for (let j = 0; j < G; j++)
        for (let t = 0; t < T; t++)
          for (let c = 0; c < S; c++) {
            const open = c < lens[b]! || (c >= P && c - P <= t);
            expect([b, j, t, c, m[((b * G + j) * T + t) * S + c]]).toEqual([b, j, t, c, open ? 0 : Math.fround(-1e30)]);
          }
  });
});

describe("StepMemo", () => {
  it("reuses the mask for the same positions, G, T and P and recomputes when any differs", () => {
    const memo = new StepMemo(32, 10000);
    const p = Float64Array.of(3, 4, 5, 0, 1, 2); // B = 2, T = 3: cached lengths 3 and 0
    const m = memo.mask(p, 2, 3, 8);
    expect(Buffer.from(m.buffer).equals(Buffer.from(causalMask([3, 0], 2, 3, 8).buffer))).toBe(true);
    expect(memo.mask(Float64Array.from(p), 2, 3, 8)).toBe(m);
    expect(memo.masksComputed).toBe(1);
    expect(memo.mask(p, 2, 3, 9)).not.toBe(m); // another past length
    expect(memo.mask(p, 1, 3, 9)).not.toBe(m); // another group size
    p[0] = 2;
    expect(memo.mask(p, 1, 3, 9)).not.toBe(m); // the caller's array changed
    expect(memo.masksComputed).toBe(4);
  });

  it("returns ropeTables' values, once per distinct positions (compared by content)", () => {
    const memo = new StepMemo(32, 10000);
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
  it("computes the tables and the mask once for all its layers, with the same rows as computing them per layer", async () => {
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
        const a = new StepMemo(m.config.headDim, m.config.ropeBase);
        const b = new EveryLayer(m.config.headDim, m.config.ropeBase);
        const got = await once.forward(x.map((xb, i) => ({ kv: kvOnce[i]!, x: xb })), moe, a);
        const want = await every.forward(x.map((xb, i) => ({ kv: kvEvery[i]!, x: xb })), moe, b);
        expect([step, a.computed, b.computed, a.masksComputed, b.masksComputed]).toEqual([step, 1, L, 1, L]);
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
