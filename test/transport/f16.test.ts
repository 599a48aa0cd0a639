import { describe, expect, it } from "vitest";
import { f16ArrayToF32, f16BitsToNumber, f32ArrayToF16, f32ToF16Bits, roundThroughF16 } from "../../transport/index.js";
import { prng } from "./helpers.js";

const isNaNBits = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe("f16 conversions", () => {
  it("round-trips every half exactly (f16 → f32 → f16)", () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const back = f32ArrayToF16(f16ArrayToF32(all));
    for (let h = 0; h < 65536; h++) {
      if (isNaNBits(h)) expect(isNaNBits(back[h])).toBe(true);
      else if (back[h] !== h) expect.fail(`half 0x${h.toString(16)} came back as 0x${back[h].toString(16)}`);
    }
  });

  it("rounds to nearest, ties to even, at the edges", () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [1 + 2 ** -11, 0x3c00], // tie → even (down)
      [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie
      [65504, 0x7bff], // largest half
      [65519.99, 0x7bff],
      [65520, 0x7c00], // tie at the top rounds to even = Infinity
      [1e9, 0x7c00],
      [-1e9, 0xfc00],
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // tie → even (zero)
      [2 ** -25 * 1.5, 0x0001],
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal units → 2
      [2 ** -14 - 2 ** -25, 0x0400], // rounds up into the smallest normal
      [-0, 0x8000],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
    ];
    for (const [value, bits] of cases) expect(f32ToF16Bits(value), `f16(${value})`).toBe(bits);
    expect(isNaNBits(f32ToF16Bits(NaN))).toBe(true);
  });

  it("picks the nearest half for 200k random floats", () => {
    const rand = prng(7);
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    for (let i = 0; i < 200_000; i++) {
      bits[0] = Math.floor(rand() * 2 ** 32);
      const x = f[0];
      if (!Number.isFinite(x) || Math.abs(x) >= 65520) continue;
      const h = f32ToF16Bits(x);
      const y = f16BitsToNumber(h);
      // neighbours of h in value order
      const mag = h & 0x7fff;
      const sign = h & 0x8000;
      const up = f16BitsToNumber(sign | Math.min(mag + 1, 0x7bff));
      const down = mag === 0 ? -f16BitsToNumber(1) * (sign ? -1 : 1) : f16BitsToNumber(sign | (mag - 1));
      const err = Math.abs(x - y);
      expect(err <= Math.abs(x - up)).toBe(true);
      expect(err <= Math.abs(x - down)).toBe(true);
      if (err === Math.abs(x - up) && up !== y) expect(h & 1).toBe(0);
      if (err === Math.abs(x - down) && down !== y) expect(h & 1).toBe(0);
    }
  });

  it("is idempotent: values already rounded survive another round exactly", () => {
    const rand = prng(3);
    const x = Float32Array.from({ length: 4096 }, () => (rand() - 0.5) * 2 ** (Math.floor(rand() * 40) - 20));
    const once = roundThroughF16(x);
    expect(roundThroughF16(once)).toEqual(once);
  });
});
