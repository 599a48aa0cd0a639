/**
 * y = W·x for a weight stored [out, in]: a plain f32 `MatMul`, or
 * `com.microsoft.MatMulNBits` (bits 8, block 32) for Q8_0 weights, which maps
 * GGUF Q8_0 blocks onto it losslessly: code = q + 128 (default zero point 128),
 * scale = f32(d).
 */
import { dequantizeQ8_0, f16ToF32 } from "../dtype.js";
import { GraphBuilder, MS_DOMAIN } from "./builder.js";

/** A weight matrix ready for a graph. */
export type LinearWeight =
  | {
      readonly kind: "f32";
      readonly out: number;
      readonly in: number;
      /** Row-major [out, in] values. */
      readonly data: Float32Array;
    }
  | {
      readonly kind: "q8_0";
      readonly out: number;
      readonly in: number;
      /** Raw GGUF Q8_0 bytes: per output row, in/32 blocks of {f16 d, int8 q[32]}. */
      readonly blocks: Uint8Array;
    };

/** Options for quantized matmuls. */
export interface LinearOptions {
  /** MatMulNBits accuracy_level: 0 = f32 activations (default, exact); 4 = int8 activations. */
  readonly accuracyLevel?: number;
  /**
   * Expand Q8_0 weights to f32 (exactly: f32(d)·q) and use a plain MatMul: the same numbers, 4.25× the
   * memory, and on CPU several times faster than MatMulNBits with f32 activations.
   */
  readonly dequantize?: boolean;
}

/** Emit y = x·Wᵀ, x [..., in] → y [..., out]. */
export function linear(g: GraphBuilder, x: string, w: LinearWeight, prefix: string, opts: LinearOptions = {}): string {
  if (w.kind === "q8_0" && opts.dequantize) w = { kind: "f32", out: w.out, in: w.in, data: dequantizeQ8_0(w.blocks) };
  if (w.kind === "f32") {
    const t = transpose(w.data, w.out, w.in);
    const wt = g.f32(`${prefix}_wT`, t, [w.in, w.out]);
    return g.op("MatMul", [x, wt]);
  }
  const { codes, scales } = q8_0ToNBits(w.blocks, w.out, w.in);
  const nBlocks = w.in / 32;
  const b = g.u8(`${prefix}_q`, codes, [w.out, nBlocks, 32]);
  const s = g.f32(`${prefix}_s`, scales, [w.out, nBlocks]);
  return g.op("MatMulNBits", [x, b, s], { K: w.in, N: w.out, bits: 8, block_size: 32, accuracy_level: opts.accuracyLevel ?? 0 }, MS_DOMAIN);
}

/** [rows, cols] → [cols, rows]. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) t[c * rows + r] = a[base + c]!;
  }
  return t;
}

/** Split Q8_0 blocks into MatMulNBits uint8 codes (q+128) and f32 scales [out, in/32]. */
export function q8_0ToNBits(blocks: Uint8Array, out: number, inDim: number): { codes: Uint8Array; scales: Float32Array } {
  if (inDim % 32 !== 0) throw new Error(`Q8_0 input width ${inDim} is not a multiple of 32`);
  const nBlocks = (out * inDim) / 32;
  if (blocks.byteLength !== nBlocks * 34) throw new Error(`Q8_0 data is ${blocks.byteLength} bytes, expected ${nBlocks * 34}`);
  const codes = new Uint8Array(out * inDim);
  const scales = new Float32Array(nBlocks);
  const view = new DataView(blocks.buffer, blocks.byteOffset, blocks.byteLength);
  for (let b = 0; b < nBlocks; b++) {
    const off = b * 34;
    scales[b] = f16ToF32(view.getUint16(off, true));
    for (let i = 0; i < 32; i++) codes[b * 32 + i] = (view.getInt8(off + 2 + i) + 128) & 0xff;
  }
  return { codes, scales };
}
