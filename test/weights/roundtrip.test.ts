/** Writer -> reader round trips for every dtype, and metadata of every type. */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { f32ToBf16Bytes, f32ToBytes, f32ToF16Bytes, openGguf, openSafetensors, quantizeQ8_0, type WeightDType } from "../../model/index.js";
import { writeGguf, writeSafetensors } from "../../factory/index.js";
import { tempDirs } from "./helpers.js";

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

/** Deterministic test values of `n` elements. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = Math.fround((s / 2 ** 32 - 0.5) * 3);
  }
  return out;
}

const encoders: Record<WeightDType, (v: Float32Array) => Uint8Array> = { F32: f32ToBytes, F16: f32ToF16Bytes, BF16: f32ToBf16Bytes, Q8_0: quantizeQ8_0 };

describe.each(["F32", "F16", "BF16", "Q8_0"] as const)("GGUF round trip %s", (dtype) => {
  it("writes and reads back shapes, bytes and exact f32 values, whole and per expert", () => {
    const file = path.join(tmp.make(), "t.gguf");
    const stacked = values(3 * 5 * 64, 1);
    const mat = values(7 * 32, 2);
    const vec = values(64, 3);
    const tensors = [
      { name: "stacked", dtype, shape: [3, 5, 64], data: encoders[dtype](stacked) },
      { name: "mat", dtype, shape: [7, 32], data: encoders[dtype](mat) },
      { name: "vec", dtype: "F32" as const, shape: [64], data: f32ToBytes(vec) },
    ];
    writeGguf(file, { metadata: [["general.architecture", "test"]], tensors });
    const r = openGguf(file);
    try {
      expect(r.tensors().map((t) => [t.name, t.dtype, [...t.shape]])).toEqual(tensors.map((t) => [t.name, t.dtype, t.shape]));
      for (const t of tensors) {
        expect(Buffer.from(r.readRaw(t.name).bytes).equals(Buffer.from(t.data))).toBe(true);
        expect(r.info(t.name).offset % 32).toBe(0);
      }
      const whole = r.readF32("stacked");
      if (dtype === "F32") expect(whole).toEqual(stacked);
      const tol = { F32: 0, F16: 2 ** -11, BF16: 2 ** -8, Q8_0: 1.5 / 127 }[dtype];
      for (let i = 0; i < stacked.length; i++) expect(Math.abs(whole[i]! - stacked[i]!)).toBeLessThanOrEqual(tol * 1.5);
      const before = r.bytesRead;
      const e1 = r.readF32("stacked", 1);
      expect(r.bytesRead - before).toBe(r.info("stacked").byteLength / 3);
      expect(e1).toEqual(whole.subarray(5 * 64, 10 * 64));
      expect(r.readF32("vec")).toEqual(vec);
    } finally {
      r.close();
    }
  });
});

describe.each(["F32", "F16", "BF16"] as const)("safetensors round trip %s", (dtype) => {
  it("writes and reads back shapes, bytes and metadata", () => {
    const file = path.join(tmp.make(), "t.safetensors");
    const a = values(4 * 6 * 8, 5);
    const tensors = [
      { name: "a", dtype, shape: [4, 6, 8], data: encoders[dtype](a) },
      { name: "b", dtype: "F32" as const, shape: [3], data: f32ToBytes(values(3, 6)) },
    ];
    writeSafetensors(file, { metadata: { format: "pt", note: "x" }, tensors });
    const bytes = readFileSync(file);
    const hlen = Number(bytes.readBigUInt64LE(0));
    expect(hlen % 8).toBe(0);
    expect(JSON.parse(bytes.subarray(8, 8 + hlen).toString()).__metadata__).toEqual({ format: "pt", note: "x" });
    const r = openSafetensors(file);
    try {
      expect(r.metadata.get("format")).toBe("pt");
      expect(r.tensors().map((t) => [t.name, t.dtype, [...t.shape]])).toEqual([
        ["a", dtype, [4, 6, 8]],
        ["b", "F32", [3]],
      ]);
      expect(Buffer.from(r.readRaw("a").bytes).equals(Buffer.from(tensors[0]!.data))).toBe(true);
      expect(Buffer.from(r.readRaw("a", 2).bytes).equals(Buffer.from(tensors[0]!.data.subarray((2 * tensors[0]!.data.length) / 4, (3 * tensors[0]!.data.length) / 4)))).toBe(true);
      if (dtype === "F32") expect(r.readF32("a")).toEqual(a);
    } finally {
      r.close();
    }
  });
});

describe("GGUF metadata", () => {
  it("round-trips every value type, string arrays and 64-bit integers", () => {
    const file = path.join(tmp.make(), "m.gguf");
    writeGguf(file, {
      metadata: [
        ["s", "héllo ▁"],
        ["b", true],
        ["u8", 255, "u8"],
        ["i8", -128, "i8"],
        ["u16", 65535, "u16"],
        ["i16", -32768, "i16"],
        ["u32", 4294967295],
        ["i32", -5],
        ["f32", 1e-5, "f32"],
        ["f64", 1e-5, "f64"],
        ["u64", 2n ** 63n, "u64"],
        ["i64", -(2 ** 40), "i64"],
        ["strs", ["a", "", "▁the"]],
        ["ints", [1, -2, 3]],
        ["floats", [0.5, -1.25], "f32"],
        ["bools", [true, false]],
      ],
      tensors: [],
      alignment: 64,
    });
    const r = openGguf(file);
    try {
      const m = r.metadata;
      expect(m.get("s")).toBe("héllo ▁");
      expect(m.get("b")).toBe(true);
      expect([m.get("u8"), m.get("i8"), m.get("u16"), m.get("i16"), m.get("u32"), m.get("i32")]).toEqual([255, -128, 65535, -32768, 4294967295, -5]);
      expect(m.get("f32")).toBe(Math.fround(1e-5));
      expect(m.get("f64")).toBe(1e-5);
      expect(m.get("u64")).toBe(2n ** 63n);
      expect(m.get("i64")).toBe(-(2 ** 40));
      expect(m.get("strs")).toEqual(["a", "", "▁the"]);
      expect(m.get("ints")).toEqual([1, -2, 3]);
      expect(m.get("floats")).toEqual([0.5, -1.25]);
      expect(m.get("bools")).toEqual([true, false]);
      expect(m.get("general.alignment")).toBe(64);
      expect(r.alignment).toBe(64);
      expect(r.kv.map((k) => k.type)).toEqual(["string", "bool", "u8", "i8", "u16", "i16", "u32", "i32", "f32", "f64", "u64", "i64", "array", "array", "array", "array", "u32"]);
      expect(r.kv.find((k) => k.key === "ints")?.arrayType).toBe("i32");
      expect(statSync(file).size % 64).toBe(0);
    } finally {
      r.close();
    }
  });
  it("round-trips a header larger than the writer's first 64 KiB buffer (131072 strings, as a Grok-1 vocabulary)", () => {
    const file = path.join(tmp.make(), "big.gguf");
    const pieces = Array.from({ length: 131072 }, (_, i) => `<piece${i}>`);
    const scores = Array.from({ length: 131072 }, (_, i) => -i / 4);
    writeGguf(file, { metadata: [["tokenizer.ggml.tokens", pieces], ["tokenizer.ggml.scores", scores, "f32"], ["after", 7]], tensors: [] });
    const r = openGguf(file);
    try {
      expect(r.metadata.get("tokenizer.ggml.tokens")).toEqual(pieces);
      expect(r.metadata.get("tokenizer.ggml.scores")).toEqual(scores);
      expect(r.metadata.get("after")).toBe(7);
    } finally {
      r.close();
    }
  });
  it("the writer is deterministic and rejects values that do not fit their type", () => {
    const d = tmp.make();
    const input = { metadata: [["k", 1] as const], tensors: [{ name: "t", dtype: "F32" as const, shape: [2], data: f32ToBytes(new Float32Array([1, 2])) }] };
    writeGguf(path.join(d, "a.gguf"), input);
    writeGguf(path.join(d, "b.gguf"), input);
    expect(readFileSync(path.join(d, "a.gguf")).equals(readFileSync(path.join(d, "b.gguf")))).toBe(true);
    expect(() => writeGguf(path.join(d, "c.gguf"), { metadata: [["k", 300, "u8"]], tensors: [] })).toThrow(/does not fit type u8/);
    expect(() => writeGguf(path.join(d, "c.gguf"), { metadata: [], tensors: [{ name: "t", dtype: "F32", shape: [3], data: new Uint8Array(8) }] })).toThrow(/needs 12 bytes/);
    expect(() => writeGguf(path.join(d, "c.gguf"), { metadata: [], tensors: [{ name: "t", dtype: "Q8_0", shape: [48], data: new Uint8Array(51) }] })).toThrow(/multiple of 32/);
    expect(() => writeSafetensors(path.join(d, "c.safetensors"), { tensors: [{ name: "t", dtype: "Q8_0", shape: [32], data: new Uint8Array(34) }] })).toThrow(/Q8_0 is not supported in safetensors/);
  });
});
