/**
 * IEEE 754 binary16 ("f16") conversions for the `f16` wire dtype.
 *
 * f32 → f16 rounds to nearest, ties to even (RNE), overflows to ±Infinity,
 * flushes nothing (subnormal halves are produced exactly) and keeps NaN a NaN.
 * f16 → f32 is exact (every half is a float). Both work on raw bits: a half
 * travels as a `Uint16Array` element.
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Convert the bits of one float32 (as an unsigned 32-bit integer) to half bits, RNE. */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    mant |= 0x800000;
    const shift = 14 - e; // 14..24
    const halfway = 1 << (shift - 1);
    const rem = mant & ((1 << shift) - 1);
    let r = mant >>> shift;
    if (rem > halfway || (rem === halfway && (r & 1) === 1)) r++;
    return sign | r; // a carry into 0x400 is the smallest normal, as it should be
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) === 1)) r++; // a carry may reach Infinity: correct
  return sign | r;
}

/** Convert one number to the nearest half (RNE), returned as half bits. */
export function f32ToF16Bits(value: number): number {
  scratchF32[0] = value;
  return f32BitsToF16Bits(scratchU32[0]);
}

/** Value of one half given its bits (exact). */
export function f16BitsToNumber(h: number): number {
  const sign = (h & 0x8000) !== 0 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m !== 0 ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

let table: Float32Array | undefined;

/** The 65536 float32 values of all halves, built on first use (256 KiB). */
function halfTable(): Float32Array {
  if (table === undefined) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = f16BitsToNumber(h);
  }
  return table;
}

/**
 * Convert float32 values to half bits, RNE.
 * @param src values, any shape (flat)
 * @param dst optional output of the same length
 * @returns half bits, `src.length` elements
 */
export function f32ArrayToF16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (dst.length !== src.length) throw new RangeError(`f16 output length ${dst.length} != input length ${src.length}`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f32BitsToF16Bits(bits[i]);
  return dst;
}

/**
 * Convert half bits to float32 values (exact).
 * @param src half bits, any shape (flat)
 * @param dst optional output of the same length
 */
export function f16ArrayToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  if (dst.length !== src.length) throw new RangeError(`f32 output length ${dst.length} != input length ${src.length}`);
  const t = halfTable();
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]];
  return dst;
}

/** Round float32 values through f16 and back (what a receiver of an f16 frame sees). */
export function roundThroughF16(src: Float32Array): Float32Array {
  return f16ArrayToF32(f32ArrayToF16(src));
}

/** Index of the first half that is NaN or ±Infinity, or -1 when all are finite. */
export function firstNonFiniteF16(bits: Uint16Array): number {
  for (let i = 0; i < bits.length; i++) if ((bits[i] & 0x7c00) === 0x7c00) return i;
  return -1;
}
