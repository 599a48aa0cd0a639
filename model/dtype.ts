/**
 * Exact scalar conversions between f32, f16 and bf16, and the GGUF Q8_0 block
 * format (SPEC.md §9.4). Pure functions on typed arrays; no platform maths, so
 * results are bit-identical everywhere.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Bit pattern of `x` rounded to f32. */
export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

/** The f32 whose bit pattern is `bits` (uint32). */
export function f32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0]!;
}

/** IEEE half (uint16 bits) to its exact f32 value (subnormals, ±inf, NaN kept). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 0x1f) return man ? NaN : sign * Infinity;
  return sign * (1024 + man) * 2 ** (exp - 25);
}

/** bfloat16 (uint16 bits) to its exact f32 value. */
export function bf16ToF32(b: number): number {
  return f32FromBits((b & 0xffff) << 16);
}

/**
 * f32 (any JS number, first rounded to f32) to IEEE half bits, rounding to
 * nearest even; subnormal halves produced exactly, overflow to ±inf, NaN quiet.
 */
export function f32ToF16(x: number): number {
  const bits = f32Bits(x);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let man = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 | (man >>> 13) : 0);
  const e = exp - 127 + 15; // biased half exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): value = man24 · 2^(exp-150); half unit 2^-24.
    if (e < -10) return sign; // below half the smallest subnormal: rounds to 0
    man |= 0x800000;
    const shift = 14 - e; // 14..24
    let r = man >>> shift;
    const rem = man & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r; // r may carry into the exponent field: that is correct
  }
  let r = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++; // carry may reach inf: correct
  return sign | r;
}

/** f32 to bfloat16 bits, round to nearest even, NaN kept quiet. */
export function f32ToBf16(x: number): number {
  const bits = f32Bits(x);
  if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff) return ((bits >>> 16) | 0x40) & 0xffff;
  const lsb = (bits >>> 16) & 1;
  return ((bits + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** Values per Q8_0 block. */
export const Q8_0_BLOCK = 32;
/** Bytes per Q8_0 block: fp16 scale + 32 int8. */
export const Q8_0_BLOCK_BYTES = 34;

/** Round half away from zero (C `roundf`). */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/**
 * Quantise f32 values to Q8_0 with ggml's reference quantiser (SPEC.md §9.4):
 * per block of 32 consecutive values, d = amax/127 (f32), id = 1/d, stored
 * fp16(d), q = roundf(x·id). `values.length` must be a multiple of 32 (the
 * contiguous dimension of every row must be).
 * @returns bytes, 34 per block
 */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % Q8_0_BLOCK !== 0) throw new RangeError(`Q8_0 needs a multiple of ${Q8_0_BLOCK} values, got ${values.length}`);
  const nb = values.length / Q8_0_BLOCK;
  const out = new Uint8Array(nb * Q8_0_BLOCK_BYTES);
  const q = new Int8Array(out.buffer);
  for (let b = 0; b < nb; b++) {
    const base = b * Q8_0_BLOCK;
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(values[base + j]!));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    const h = f32ToF16(d);
    const o = b * Q8_0_BLOCK_BYTES;
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < Q8_0_BLOCK; j++) q[o + 2 + j] = roundHalfAway(Math.fround(values[base + j]! * id));
  }
  return out;
}

/** Dequantise Q8_0 bytes exactly: x = f32(d)·q. Length must be a multiple of 34. */
export function dequantizeQ8_0(bytes: Uint8Array, out?: Float32Array): Float32Array {
  if (bytes.length % Q8_0_BLOCK_BYTES !== 0) throw new RangeError(`Q8_0 data must be a multiple of ${Q8_0_BLOCK_BYTES} bytes, got ${bytes.length}`);
  const nb = bytes.length / Q8_0_BLOCK_BYTES;
  const res = out ?? new Float32Array(nb * Q8_0_BLOCK);
  const q = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let b = 0; b < nb; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = f16ToF32(bytes[o]! | (bytes[o + 1]! << 8));
    const base = b * Q8_0_BLOCK;
    for (let j = 0; j < Q8_0_BLOCK; j++) res[base + j] = d * q[o + 2 + j]!;
  }
  return res;
}

/** Little-endian uint16 array view/copy of `bytes` (even length). */
function u16le(bytes: Uint8Array): Uint16Array {
  const n = bytes.length >>> 1;
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = bytes[2 * i]! | (bytes[2 * i + 1]! << 8);
  return out;
}

/** Little-endian f16 bytes to f32 values (exact). */
export function f16BytesToF32(bytes: Uint8Array): Float32Array {
  const h = u16le(bytes);
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = f16ToF32(h[i]!);
  return out;
}

/** Little-endian bf16 bytes to f32 values (exact). */
export function bf16BytesToF32(bytes: Uint8Array): Float32Array {
  const n = bytes.length >>> 1;
  const out = new Float32Array(n);
  const o = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) o[i] = ((bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16) >>> 0;
  return out;
}

/** Little-endian f32 bytes to values: a view of `bytes` when the host is little-endian and they are 4-byte aligned, else a copy. */
export function f32BytesToF32(bytes: Uint8Array): Float32Array {
  // a little-endian host reads aligned bytes as they are (a view: no copy of a 100 MB tensor)
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  const out = new Float32Array(bytes.length >>> 2);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(4 * i, true);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** f32 values to little-endian f32 bytes. */
export function f32ToBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i]!, true);
  return out;
}

/** f32 values to little-endian f16 bytes (round to nearest even). */
export function f32ToF16Bytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const h = f32ToF16(values[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

/** f32 values to little-endian bf16 bytes (round to nearest even). */
export function f32ToBf16Bytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const h = f32ToBf16(values[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}
