/**
 * y = W·x for a weight stored [out, in]: a plain f32 `MatMul`, or
 * `com.microsoft.MatMulNBits` (bits 8, block 32) for Q8_0 weights, which maps
 * GGUF Q8_0 blocks onto it losslessly: code = q + 128 (default zero point 128),
 * scale = f32(d).
 *
 * How a Q8_0 matmul treats its activations ({@link Q8Mode}):
 * - `"int8"` (default): MatMulNBits accuracy level 4 quantizes x per block of 32
 *   to int8 (scale max|x|/127), as llama.cpp does; int8 dot products, the fast
 *   path on CPU. Error: ≤ half a code step of each activation block, about
 *   4e-3 of |y|'s largest entry on random data.
 * - `"exact"`: x is split into three int8 "limbs" per block of 32,
 *   x = a₁ + a₂ + a₃ (+ r, |r| ≤ 2⁻²⁴·max|x_block|), each aᵢ = sᵢ·qᵢ with integer
 *   |qᵢ| ≤ 127 and max |qᵢ| = 127, so the int8 kernel quantizes every limb
 *   without loss; one MatMulNBits call on the 3 stacked rows and a sum give
 *   W·x to f32 rounding. Weights are read once, so at decode (bandwidth-bound)
 *   it costs little more than `"int8"`; prefill does 3× the int8 work.
 *   (MatMulNBits with f32 activations, accuracy level 0, gives the same numbers
 *   but runs 50–400× slower on CPU at M = 1: bench/engine.ts, README.)
 * - `"dequantize"`: the weights expanded to f32 at load and a plain MatMul: the
 *   same numbers as `"exact"`, 4.25× the weight memory.
 */
import { dequantizeQ8_0, f16ToF32 } from "../dtype.js";
import { GraphBuilder, MS_DOMAIN } from "./builder.js";

/**
 * Q8_0 bytes of a matrix read on demand, whole rows at a time: a large matrix is converted to
 * MatMulNBits codes chunk by chunk and never held whole as GGUF blocks.
 */
export interface Q8RowSource {
  /** Bytes of the whole matrix (rows × in/32 × 34). */
  readonly byteLength: number;
  /** The Q8_0 bytes of rows [first, first + count); may be a view of a buffer reused by the next call. */
  rows(first: number, count: number): Uint8Array;
}

/** Q8_0 blocks in memory, or read on demand. */
export type Q8Blocks = Uint8Array | Q8RowSource;

/** The blocks of `b` in one array (reads a {@link Q8RowSource} whole). */
export function q8Bytes(b: Q8Blocks, out: number): Uint8Array {
  return b instanceof Uint8Array ? b : b.rows(0, out);
}

/** Rows [first, first+count) of `b`, each `rowBytes` long. */
function q8Rows(b: Q8Blocks, rowBytes: number, first: number, count: number): Uint8Array {
  return b instanceof Uint8Array ? b.subarray(first * rowBytes, (first + count) * rowBytes) : b.rows(first, count);
}

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
      /** Raw GGUF Q8_0 bytes: per output row, in/32 blocks of {f16 d, int8 q[32]} (or a source of them). */
      readonly blocks: Q8Blocks;
    };

/** How Q8_0 matmuls treat activations (see the module comment). */
export type Q8Mode = "int8" | "exact" | "dequantize";

/**
 * f32 matrices of at least this many bytes are fed as graph inputs instead of embedded (default 256 MiB):
 * a ModelProto cannot exceed 2 GB (one Grok-1 f32 expert is 2.4 GB, its unembedding 3.2 GB), and an
 * input needs no protobuf copy.
 */
export const DEFAULT_MAX_INITIALIZER_BYTES = 256 * 1024 * 1024;

/** Options for quantized matmuls. */
export interface LinearOptions {
  /** Default "int8". */
  readonly q8?: Q8Mode;
  /** f32 matrices of this many bytes or more become graph inputs (see {@link DEFAULT_MAX_INITIALIZER_BYTES}). */
  readonly maxInitializerBytes?: number;
}

/** Activation limbs of the exact Q8 path. */
const LIMBS = 3;
const FLT_MIN = 1.1754943508222875e-38;

/** Per builder: x → its stacked limbs (so q/k/v or gate/up share one decomposition). */
const limbCache = new WeakMap<GraphBuilder, Map<string, string>>();

/**
 * Emit y = x·Wᵀ, x [..., in] → y [..., out]. With `rows2d` the caller promises x is [R, in] (2-D): an f32
 * matmul then needs no reshapes around its Gemm (4 nodes fewer per run; the same Gemm on the same rows).
 */
export function linear(g: GraphBuilder, x: string, w: LinearWeight, prefix: string, opts: LinearOptions = {}, rows2d = false): string {
  const mode = opts.q8 ?? "int8";
  if (w.kind === "q8_0" && mode === "dequantize") w = { kind: "f32", out: w.out, in: w.in, data: dequantizeQ8_0(q8Bytes(w.blocks, w.out)) };
  if (w.kind === "f32") {
    // Gemm with transB reads the [out, in] matrix as stored: no transposed copy at load. A matrix too
    // large to embed is a graph input fed from its array on every run (no copy either).
    const big = w.data.byteLength >= (opts.maxInitializerBytes ?? DEFAULT_MAX_INITIALIZER_BYTES);
    const W = big ? g.weightInput(`${prefix}_w`, w.data, [w.out, w.in]) : g.f32(`${prefix}_w`, w.data, [w.out, w.in]);
    if (rows2d) return g.op("Gemm", [x, W], { transB: 1 });
    const x2 = g.op("Reshape", [x, g.i64(`${prefix}_rows`, [-1, w.in])]);
    return backToLeadingDims(g, x, g.op("Gemm", [x2, W], { transB: 1 }), w.out, prefix);
  }
  const { codes, scales } = q8_0ToNBits(w.blocks, w.out, w.in);
  const nBlocks = w.in / 32;
  const b = g.u8(`${prefix}_q`, codes, [w.out, nBlocks, 32]);
  const attrs = { K: w.in, N: w.out, bits: 8, block_size: 32, accuracy_level: 4 };
  // accuracy level 4 (int8 activations) copies the scales into the packed weights (TensorOptions.packedOnly);
  // at levels 0-1 every run reads them (dropping them there would fault)
  const s = g.f32(`${prefix}_s`, scales, [w.out, nBlocks], { packedOnly: attrs.accuracy_level === 4 });
  if (mode === "int8") return g.op("MatMulNBits", [x, b, s], attrs, MS_DOMAIN);
  // exact: [LIMBS·R, in] rows through one int8 matmul, then the sum of the LIMBS partial products
  const rows = limbs(g, x, w.in);
  const y = g.op("MatMulNBits", [rows, b, s], attrs, MS_DOMAIN);
  // Σ of the LIMBS partial products as ones[1, LIMBS] · y[LIMBS, R·out] (a GEMM: ReduceSum over the
  // leading axis cost 0.6 ms at R = 1 and 9 ms at R = 16 on the 131072-wide head, this ≤ 0.7 ms)
  const y3 = g.op("Reshape", [y, g.i64(`${prefix}_ys`, [LIMBS, -1])]);
  const sum = g.op("MatMul", [g.f32("limb_ones", new Float32Array(LIMBS).fill(1), [1, LIMBS]), y3]); // [1, R·out]
  const y2 = g.op("Reshape", [sum, g.i64(`${prefix}_rows`, [-1, w.out])]);
  return rows2d ? y2 : backToLeadingDims(g, x, y2, w.out, prefix);
}

/** y [R, out] → [..., out] with x's leading dims (x [..., in]). */
function backToLeadingDims(g: GraphBuilder, x: string, y: string, out: number, prefix: string): string {
  const lead = g.op("Shape", [x], { start: 0, end: -1 });
  return g.op("Reshape", [y, g.op("Concat", [lead, g.i64(`${prefix}_n`, [out])], { axis: 0 })]);
}

/**
 * x [..., K] → [LIMBS·R, K] (R = rows of x): limb j of every block of 32 is
 * s_j·round(t_j/s_j) with s_j = max|t_j|/127, t_1 = x, t_{j+1} = t_j − limb j.
 */
function limbs(g: GraphBuilder, x: string, K: number): string {
  let cache = limbCache.get(g);
  if (!cache) limbCache.set(g, (cache = new Map()));
  const key = `${x}:${K}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let t = g.op("Reshape", [x, g.i64("limb_blocks", [-1, K / 32, 32])]); // [R, K/32, 32]
  const parts: string[] = [];
  for (let j = 0; j < LIMBS; j++) {
    const s = g.op("Div", [g.op("ReduceMax", [g.op("Abs", [t])], { axes: [2], keepdims: 1 }), g.scalar("limb_127", 127)]);
    const q = g.op("Round", [g.op("Div", [t, g.op("Max", [s, g.scalar("limb_min", FLT_MIN)])])]);
    const a = g.op("Mul", [q, s]);
    parts.push(a);
    if (j < LIMBS - 1) t = g.op("Sub", [t, a]);
  }
  const rows = g.op("Reshape", [g.op("Concat", parts, { axis: 0 }), g.i64("limb_rows", [-1, K])]);
  cache.set(key, rows);
  return rows;
}

/**
 * Stack weights that read the same input into one [Σ out, in] matrix (all f32 or all Q8_0), so one
 * matmul replaces several (q/k/v, gate/up); split its output with {@link splitLast}.
 */
export function concatRows(ws: readonly LinearWeight[]): LinearWeight {
  const inDim = ws[0]!.in;
  const out = ws.reduce((a, w) => a + w.out, 0);
  if (ws.some((w) => w.in !== inDim || w.kind !== ws[0]!.kind)) throw new Error("concatRows: weights differ in input width or dtype");
  if (ws.length === 1) return ws[0]!;
  if (ws[0]!.kind === "f32") {
    const parts = ws.map((w) => (w as { data: Float32Array }).data);
    const data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) data.set(p, (at += p.length) - p.length);
    return { kind: "f32", out, in: inDim, data };
  }
  return { kind: "q8_0", out, in: inDim, blocks: stackedRows(ws as readonly Extract<LinearWeight, { kind: "q8_0" }>[]) };
}

/** The Q8_0 rows of several matrices of one width, stacked, as a source that reads each part on demand (no copy of the whole). */
function stackedRows(ws: readonly Extract<LinearWeight, { kind: "q8_0" }>[]): Q8RowSource {
  const rowBytes = (ws[0]!.in / 32) * 34;
  const out = ws.reduce((a, w) => a + w.out, 0);
  return {
    byteLength: out * rowBytes,
    rows(first: number, count: number): Uint8Array {
      const chunks: Uint8Array[] = [];
      let start = 0;
      for (const w of ws) {
        const lo = Math.max(first, start);
        const hi = Math.min(first + count, start + w.out);
        if (lo < hi) chunks.push(q8Rows(w.blocks, rowBytes, lo - start, hi - lo));
        start += w.out;
      }
      if (chunks.length === 1) return chunks[0]!;
      const all = new Uint8Array(count * rowBytes);
      let at = 0;
      for (const c of chunks) all.set(c, (at += c.length) - c.length);
      return all;
    },
  };
}

/**
 * y_i = x·W_iᵀ for weights that read the same x: one matmul on their stacked rows ({@link concatRows}),
 * unless they are f32 matrices that together reach the graph-input size, which are fed separately (stacking
 * would copy gigabytes).
 */
export function linearShared(g: GraphBuilder, x: string, ws: readonly LinearWeight[], prefix: string, opts: LinearOptions = {}, rows2d = false): string[] {
  if (!stacksShared(ws, opts)) return ws.map((w, i) => linear(g, x, w, `${prefix}${i}`, opts, rows2d));
  const y = linear(g, x, concatRows(ws), prefix, opts, rows2d);
  return splitLast(g, y, ws.map((w) => w.out), `${prefix}_parts`);
}

/** Whether {@link linearShared} stacks `ws` into one matmul (else: f32 matrices together reaching the graph-input size, fed separately). */
export function stacksShared(ws: readonly LinearWeight[], opts: LinearOptions = {}): boolean {
  const asF32 = (w: LinearWeight) => (w.kind === "f32" ? w.data.byteLength : opts.q8 === "dequantize" ? (w.blocks.byteLength / 34) * 128 : 0);
  const f32Bytes = ws.reduce((a, w) => a + asF32(w), 0);
  return !(ws.length > 1 && f32Bytes > 0 && f32Bytes >= (opts.maxInitializerBytes ?? DEFAULT_MAX_INITIALIZER_BYTES));
}

/** Split y [..., Σ sizes] along its last axis into parts of the given sizes. */
export function splitLast(g: GraphBuilder, y: string, sizes: readonly number[], prefix: string): string[] {
  if (sizes.length === 1) return [y];
  return g.opN("Split", [y, g.i64(`${prefix}_split`, sizes)], sizes.length, { axis: -1 });
}

/** [rows, cols] → [cols, rows], in 64×64 tiles (a 100 MB matrix would thrash the cache row by row). */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  const B = 64;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const base = r * cols;
        for (let c = c0; c < c1; c++) t[c * rows + r] = a[base + c]!;
      }
    }
  }
  return t;
}

/** f32 value of every f16 bit pattern (the Q8_0 scales). */
let f16Table: Float32Array | undefined;

/** Rows converted per read of a {@link Q8RowSource} (≈ 13 MB of GGUF blocks at in = 6144). */
const CHUNK_ROWS = 2048;

/**
 * Split Q8_0 blocks into MatMulNBits uint8 codes (q+128) and f32 scales [out, in/32]. A {@link Q8RowSource}
 * is read {@link CHUNK_ROWS} rows at a time, so only the codes are ever whole in memory.
 */
export function q8_0ToNBits(blocks: Q8Blocks, out: number, inDim: number): { codes: Uint8Array; scales: Float32Array } {
  if (inDim % 32 !== 0) throw new Error(`Q8_0 input width ${inDim} is not a multiple of 32`);
  const nBlocks = (out * inDim) / 32;
  if (blocks.byteLength !== nBlocks * 34) throw new Error(`Q8_0 data is ${blocks.byteLength} bytes, expected ${nBlocks * 34}`);
  const codes = new Uint8Array(out * inDim);
  const scales = new Float32Array(nBlocks);
  const f16 = (f16Table ??= Float32Array.from({ length: 65536 }, (_, h) => f16ToF32(h)));
  const rowBlocks = inDim / 32;
  const codes16 = new Uint16Array(codes.buffer);
  for (let r0 = 0; r0 < out; r0 += CHUNK_ROWS) {
    const n = Math.min(CHUNK_ROWS, out - r0);
    let src = q8Rows(blocks, rowBlocks * 34, r0, n);
    // 16-bit reads need an even byte offset (GGUF data is 32-byte aligned; a subarray may not be)
    if (src.byteOffset & 1) src = src.slice();
    const src16 = new Uint16Array(src.buffer, src.byteOffset, src.byteLength >> 1);
    const b0 = r0 * rowBlocks;
    const nb = n * rowBlocks;
    // per block of 34 bytes = 17 u16: the f16 scale, then 32 int8 q as 16 u16; code q + 128 = q ^ 0x80
    for (let b = 0; b < nb; b++) {
      const i = b * 17;
      scales[b0 + b] = f16[src16[i]!]!;
      const o = (b0 + b) * 16;
      for (let k = 0; k < 16; k++) codes16[o + k] = src16[i + 1 + k]! ^ 0x8080;
    }
  }
  return { codes, scales };
}
