/** The deterministic model generator: bytes, dtypes, formats, and the statistics of grok-1-tiny. */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeModelProto, f16ToF32, f32ToF16Bytes, ModelConfigError, openModel, presetConfig } from "../../model/index.js";
import { ensureTinyModel, generateModel, Xoshiro128 } from "../../factory/index.js";
import { GrokReference, RefStats } from "../reference/grok-ref.js";
import { SMALL, tempDirs } from "./helpers.js";

const tmp = tempDirs("moe-gen-");
afterAll(() => tmp.cleanup());

const FILES = ["config.json", "model.gguf", "tokenizer.model"];
const read = (dir: string, f: string) => readFileSync(path.join(dir, f));

describe("generateModel", () => {
  const gen = (seed: number, dtype: "f32" | "f16" | "q8_0" = "f32", format: "gguf" | "safetensors" = "gguf") => {
    const dir = tmp.make();
    generateModel({ config: SMALL, outDir: dir, format, dtype, seed });
    return dir;
  };
  const a = gen(7);

  it("is deterministic: same seed, identical bytes; another seed, other weights", () => {
    const b = gen(7);
    for (const f of FILES) expect(read(a, f).equals(read(b, f)), f).toBe(true);
    const c = gen(8);
    expect(read(a, "model.gguf").equals(read(c, "model.gguf"))).toBe(false);
    expect(read(a, "config.json").equals(read(c, "config.json"))).toBe(true);
  });

  it("the PRNG is pinned: xoshiro128** outputs for seed 0 never change", () => {
    const r = new Xoshiro128(0);
    expect([r.next(), r.next(), r.next()]).toEqual([1789933344, 44971166, 2521387044]);
    // a value of the generated file, pinned so that any platform drift shows
    const m = openModel(a);
    try {
      expect(Array.from(m.weights.readF32("blk.0.attn_q.weight").subarray(0, 3))).toEqual([-0.40507110953330994, -0.2878817617893219, 0.8032270669937134]);
    } finally {
      m.close();
    }
  });

  it("writes a directory openModel accepts; GGUF metadata alone gives back the same config", () => {
    const m = openModel(a);
    try {
      expect(m.config).toEqual(SMALL);
      expect(m.tokenizer).toEqual({ kind: "spm-file", path: path.join(a, "tokenizer.model"), addBos: SMALL.addBos });
      expect(JSON.parse(read(a, "config.json").toString())).toEqual(SMALL);
    } finally {
      m.close();
    }
    const g = openModel(path.join(a, "model.gguf"));
    try {
      expect(g.config).toEqual(SMALL);
      const pieces = decodeModelProto(read(a, "tokenizer.model"), "tokenizer.model").pieces;
      expect(pieces.length).toBe(SMALL.vocabSize);
      if (g.tokenizer.kind !== "gguf-vocab") throw new Error("expected gguf-vocab");
      expect(g.tokenizer.tokens).toEqual(pieces.map((p) => p.piece));
      expect(g.tokenizer.types).toEqual(pieces.map((p) => p.type));
      expect(g.weights.metadata.get("general.file_type")).toBe(0);
    } finally {
      g.close();
    }
  });

  it("q8_0: matrices Q8_0 (F16 where the input width is not a multiple of 32), within half a step of f32", () => {
    const q = openModel(gen(7, "q8_0"));
    const f = openModel(a);
    try {
      expect(q.weights.metadata.get("general.file_type")).toBe(7);
      const dtypes = Object.fromEntries(q.weights.tensors().map((t) => [t.name, t.dtype]));
      expect(dtypes).toMatchObject({
        "token_embd.weight": "Q8_0",
        "blk.0.attn_q.weight": "Q8_0",
        "blk.0.ffn_gate_exps.weight": "Q8_0",
        "blk.0.ffn_down_exps.weight": "F16",
        "blk.0.ffn_gate_inp.weight": "F32",
        "blk.0.attn_norm.weight": "F32",
        "output_norm.weight": "F32",
      });
      for (const t of f.weights.tensors()) {
        const exact = f.weights.readF32(t.name);
        const info = q.weights.info(t.name);
        if (info.dtype === "F32") expect(q.weights.readF32(t.name)).toEqual(exact);
        else if (info.dtype === "F16") expect(Buffer.from(q.weights.readRaw(t.name).bytes).equals(Buffer.from(f32ToF16Bytes(exact)))).toBe(true);
        else {
          const raw = q.weights.readRaw(t.name).bytes;
          const deq = q.weights.readF32(t.name);
          let worst = 0; // |error| / (half a step + the fp16 rounding of the scale)
          for (let b = 0; b < exact.length / 32; b++) {
            const d = f16ToF32(raw[34 * b]! | (raw[34 * b + 1]! << 8));
            let amax = 0;
            for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(exact[32 * b + j]!));
            const bound = 0.5 * d + 127 * Math.abs(d - amax / 127) + 1e-12;
            for (let j = 0; j < 32; j++) worst = Math.max(worst, Math.abs(deq[32 * b + j]! - exact[32 * b + j]!) / bound);
          }
          expect(worst, t.name).toBeLessThanOrEqual(1);
        }
      }
    } finally {
      q.close();
      f.close();
    }
  });

  it("f16: matrices F16, norms and router F32; safetensors f16 holds the same bytes", () => {
    const g = openModel(gen(7, "f16"));
    const s = openModel(gen(7, "f16", "safetensors"));
    try {
      expect(g.weights.info("blk.1.attn_v.weight").dtype).toBe("F16");
      expect(g.weights.info("blk.1.ffn_gate_inp.weight").dtype).toBe("F32");
      expect(s.weights.metadata.get("format")).toBe("pt");
      expect(s.config).toEqual(SMALL);
      for (const t of g.weights.tensors()) {
        expect(s.weights.info(t.name).dtype).toBe(t.dtype);
        expect(Buffer.from(s.weights.readRaw(t.name).bytes).equals(Buffer.from(g.weights.readRaw(t.name).bytes)), t.name).toBe(true);
      }
    } finally {
      g.close();
      s.close();
    }
  });

  it("rejects q8_0 with safetensors, and a directory holding other weights", () => {
    expect(() => gen(1, "q8_0", "safetensors")).toThrow(ModelConfigError);
    expect(() => gen(1, "q8_0", "safetensors")).toThrow(/safetensors cannot store q8_0/);
    expect(() => generateModel({ config: SMALL, outDir: a, format: "safetensors", dtype: "f32", seed: 1 })).toThrow(/already holds other weight files \(model.gguf\)/);
  });
});

describe("grok-1-tiny (ensureTinyModel)", () => {
  it("generates once, then reuses; the statistics are in the intended ranges", () => {
    const dir = path.join(tmp.make(), "models", "grok-1-tiny");
    expect(ensureTinyModel(dir)).toBe(dir);
    const mtime = statSync(path.join(dir, "model.gguf")).mtimeMs;
    expect(ensureTinyModel(dir)).toBe(dir);
    expect(statSync(path.join(dir, "model.gguf")).mtimeMs).toBe(mtime);

    const m = openModel(dir);
    try {
      expect(m.config).toEqual(presetConfig("grok-1-tiny"));
      const ref = new GrokReference(m.config, m.weights);
      const stats = new RefStats(m.config);
      const rng = new Xoshiro128(1234);
      const margins: number[] = [];
      for (let p = 0; p < 3; p++) {
        const prompt = [1];
        for (let i = 0; i < 40; i++) prompt.push(4 + (rng.next() % (m.config.vocabSize - 4)));
        for (const s of ref.greedyWithLogits(prompt, 16, stats).steps) {
          const sorted = [...s].sort((x, y) => y - x);
          margins.push(sorted[0]! - sorted[1]!);
        }
      }
      const sum = stats.summary();
      if (process.env.MOE_STATS) process.stdout.write(JSON.stringify(sum) + "\n");
      expect(sum.embeddingRms).toBeGreaterThan(0.3);
      expect(sum.logitsStd).toBeGreaterThan(2);
      expect(sum.logitsStd).toBeLessThan(10);
      margins.sort((x, y) => x - y);
      expect(margins[margins.length >> 1]).toBeGreaterThan(0.5);
      for (const l of sum.layers) {
        expect(l.residualRms.min).toBeGreaterThan(0.3);
        expect(l.residualRms.max).toBeLessThan(10);
        expect(l.routerTop1.min).toBeLessThan(0.4);
        expect(l.routerTop1.max).toBeGreaterThan(0.9);
        expect(l.expertCounts.every((c) => c > 0)).toBe(true);
        expect(l.attnScoreStd).toBeGreaterThan(0.7);
        expect(l.attnScoreStd).toBeLessThan(2.5);
        expect(l.attnScoreStdPerHead[0]).toBeGreaterThan(2);
      }
    } finally {
      m.close();
    }
  });
});
