import { describe, expect, it } from "vitest";
import {
  bf16ToF32,
  dequantizeQ8_0,
  f16ToF32,
  f32Bits,
  f32FromBits,
  f32ToBf16,
  f32ToF16,
  quantizeQ8_0,
  Q8_0_BLOCK_BYTES,
} from "../../model/index.js";

describe("f16 <-> f32", () => {
  it("every finite f16 converts to f32 and back to the same bits", () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = f16ToF32(h);
      if (Number.isNaN(x)) {
        expect((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0).toBe(true);
        expect(Number.isNaN(f16ToF32(f32ToF16(x)))).toBe(true);
        continue;
      }
      expect(f32ToF16(x)).toBe(h);
    }
  });
  it("known values, subnormals and limits", () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16ToF32(0x0400)).toBe(2 ** -14);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
  });
  it("f32 -> f16 rounds to nearest even, including subnormals and overflow", () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1)
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9: ties to even (up)
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    // subnormal halves: 2^-25 ties to 0, a bit more rounds to the smallest subnormal
    expect(f32ToF16(2 ** -25)).toBe(0);
    expect(f32ToF16(2 ** -25 * 1.0001)).toBe(1);
    expect(f32ToF16(3 * 2 ** -25)).toBe(2); // 1.5 units: tie to even (2)
    expect(f32ToF16(-5 * 2 ** -24)).toBe(0x8005);
    // largest subnormal rounding up into the smallest normal
    expect(f32ToF16(2 ** -14 - 2 ** -26)).toBe(0x0400);
    // overflow: 65520 is the rounding boundary to infinity
    expect(f32ToF16(65519)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00);
    expect(f32ToF16(-1e6)).toBe(0xfc00);
    expect(f32ToF16(1e-10)).toBe(0);
    expect(f32ToF16(NaN) & 0x7e00).toBe(0x7e00);
  });
  it("matches a direct nearest-even rounding on random f32 values", () => {
    let s = 12345;
    for (let i = 0; i < 20000; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const x = f32FromBits((s & 0x8fffffff) | 0x30000000); // magnitudes 2^-31..2^1: f16 subnormals and normals
      if (!Number.isFinite(x)) continue;
      const h = f32ToF16(x);
      const y = f16ToF32(h);
      if (!Number.isFinite(y)) {
        expect(Math.abs(x)).toBeGreaterThanOrEqual(65520);
        continue;
      }
      // no other f16 is closer
      const up = f16ToF32(h + 1);
      const down = h & 0x7fff ? f16ToF32(h - 1) : y;
      expect(Math.abs(x - y)).toBeLessThanOrEqual(Math.abs(x - up));
      expect(Math.abs(x - y)).toBeLessThanOrEqual(Math.abs(x - down));
    }
  });
});

describe("bf16 <-> f32", () => {
  it("bf16 -> f32 is a 16-bit shift", () => {
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0xc040)).toBe(-3);
    expect(bf16ToF32(0x7f80)).toBe(Infinity);
  });
  it("f32 -> bf16 rounds to nearest even and round-trips", () => {
    for (let b = 0; b < 0x10000; b += 7) {
      const x = bf16ToF32(b);
      if (!Number.isNaN(x)) expect(f32ToBf16(x)).toBe(b);
    }
    expect(f32ToBf16(f32FromBits(0x3f808000))).toBe(0x3f80); // tie, even stays
    expect(f32ToBf16(f32FromBits(0x3f818000))).toBe(0x3f82); // tie, odd rounds up
    expect(f32ToBf16(f32FromBits(0x3f808001))).toBe(0x3f81);
    expect(f32ToBf16(NaN) & 0x7fc0).toBe(0x7fc0);
    expect(f32Bits(bf16ToF32(f32ToBf16(f32FromBits(0x7f7fffff))))).toBe(0x7f800000); // max f32 rounds to inf
  });
});

describe("Q8_0", () => {
  it("quantises with amax/127, fp16 scale, round half away from zero", () => {
    const x = new Float32Array(32);
    x[0] = 127;
    x[1] = -127;
    x[2] = 0.5;
    x[3] = -0.5;
    x[4] = 1.49;
    x[5] = 2.5;
    const b = quantizeQ8_0(x);
    expect(b.length).toBe(Q8_0_BLOCK_BYTES);
    expect(f16ToF32(b[0]! | (b[1]! << 8))).toBe(1);
    const q = new Int8Array(b.buffer, 2, 32);
    expect([...q.slice(0, 6)]).toEqual([127, -127, 1, -1, 1, 3]);
    expect([...dequantizeQ8_0(b).slice(0, 6)]).toEqual([127, -127, 1, -1, 1, 3]);
  });
  it("an all-zero block has d = 0 and dequantises to zeros", () => {
    const b = quantizeQ8_0(new Float32Array(64));
    expect([...dequantizeQ8_0(b)].every((v) => v === 0)).toBe(true);
  });
  it("dequantised values lie within half a step (plus the fp16 scale rounding)", () => {
    const x = new Float32Array(32 * 50);
    let s = 7;
    for (let i = 0; i < x.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      x[i] = Math.fround(((s >>> 8) / 2 ** 24 - 0.5) * (1 + (i >> 5)));
    }
    const b = quantizeQ8_0(x);
    const y = dequantizeQ8_0(b);
    for (let blk = 0; blk < 50; blk++) {
      const d = f16ToF32(b[blk * 34]! | (b[blk * 34 + 1]! << 8));
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[blk * 32 + j]!));
      const exact = amax / 127;
      for (let j = 0; j < 32; j++) expect(Math.abs(y[blk * 32 + j]! - x[blk * 32 + j]!)).toBeLessThanOrEqual(0.5 * d + 127 * Math.abs(d - exact) + 1e-12);
    }
  });
  it("rejects lengths that are not whole blocks", () => {
    expect(() => quantizeQ8_0(new Float32Array(33))).toThrow(/multiple of 32/);
    expect(() => dequantizeQ8_0(new Uint8Array(35))).toThrow(/multiple of 34/);
  });
});
