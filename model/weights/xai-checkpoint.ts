/**
 * xAI's Grok-1 checkpoint read directly (XAI_CHECKPOINT.md): `ckpt-0/tensor{i:05d}_000`, one pickle
 * per parameter, as a {@link WeightReader} with canonical (GGUF) names and [out, in] shapes.
 *
 * Quantized matrices (int8 `weight` [.., in, out], bfloat16 `scales` [.., G, out]; w = q·s with s
 * per output column and per contiguous block of in/G rows) are served without re-rounding:
 * - as **Q8_0** when every scale is exactly an f16 and in/G is a multiple of 32: each xAI scale is
 *   repeated over the 32-blocks of its group, q is copied, so f32(d)·q = q·s exactly and the engine's
 *   MatMulNBits (code q+128, scale s) holds the checkpoint's weights bit for bit;
 * - otherwise as **F32** (q·s is exact in f32: 8-bit × 8-bit significands).
 * Float32 arrays (embedding, norms, router) are F32; the router [D, E] is transposed to [E, D].
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { bf16ToF32, f16ToF32, f32ToF16, Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from "../dtype.js";
import { WeightFileError } from "../errors.js";
import { readPickle } from "./pickle.js";
import { RandomAccessFile } from "./tensor-file.js";
import type { RawTensor, TensorInfo, WeightReader } from "./types.js";
import { xaiLeafValue, type XaiArray } from "./xai-arrays.js";
import { XAI_GLOBAL_LEAVES, xaiFileName, xaiLeaves, type XaiLeaf } from "./xai-layout.js";

/** The checkpoint directory name inside a model directory. */
export const XAI_CKPT_DIR = "ckpt-0";

/** One canonical tensor and where its data lies. */
interface Entry {
  readonly info: TensorInfo;
  readonly leaf: XaiLeaf;
  readonly path: string;
  readonly weight: XaiArray;
  /** Scales as f32 [.., G, out], for quantized leaves. */
  readonly scales?: Float32Array;
  /** G: scale groups along the input. */
  readonly groups: number;
}

/** The `ckpt-0` directory of `path` (the model directory or ckpt-0 itself), or undefined. */
export function findXaiCheckpoint(path: string): string | undefined {
  const p = resolve(path);
  const inner = join(p, XAI_CKPT_DIR);
  if (existsSync(join(inner, xaiFileName(0)))) return inner;
  if (existsSync(join(p, xaiFileName(0))) && statSync(p).isDirectory()) return p;
  return undefined;
}

/** bfloat16 / float32 scale bytes to f32 values. */
function scalesF32(raf: RandomAccessFile, a: XaiArray): Float32Array {
  const bytes = a.data.data ?? raf.readAt(a.data.offset, a.data.length, "scales");
  const n = a.data.length / (a.dtype === "bf16" ? 2 : 4);
  const out = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = a.dtype === "bf16" ? bf16ToF32(dv.getUint16(2 * i, true)) : dv.getFloat32(4 * i, true);
  return out;
}

const f16Exact = (s: Float32Array) => s.every((v) => f16ToF32(f32ToF16(v)) === v);

/** A Grok-1 checkpoint in xAI's format, opened for reads of single tensors or experts. */
export class XaiCheckpointReader implements WeightReader {
  /** The ckpt-0 directory. */
  readonly file: string;
  readonly metadata: ReadonlyMap<string, unknown>;
  /** Number of decoder layers (from the file count). */
  readonly nLayers: number;
  private readonly list: TensorInfo[];
  private readonly byName: Map<string, Entry>;
  /** Total size of the checkpoint's files in bytes. */
  readonly fileSize: number;
  private read = 0;

  private constructor(dir: string, entries: Entry[], nLayers: number, bytes: number) {
    this.file = dir;
    this.fileSize = bytes;
    this.nLayers = nLayers;
    this.list = entries.map((e) => e.info);
    this.byName = new Map(entries.map((e) => [e.info.name, e]));
    this.metadata = new Map<string, unknown>([
      ["xai.format", "QuantizedWeight8bit pickles (protocol 4)"],
      ["xai.leaves", entries.length],
      ["xai.layers", nLayers],
      ["xai.bytes", bytes],
    ]);
  }

  /**
   * Open `ckpt-0/` (or a directory holding it): parses every file's pickle header, checks the file
   * count (2 + 12 per layer, no gaps), dtypes and that every array agrees with the embedding's width.
   * @throws WeightFileError naming the directory or file and the fix
   */
  static open(path: string): XaiCheckpointReader {
    const dir = findXaiCheckpoint(path);
    if (!dir) throw new WeightFileError(`${resolve(path)}: no xAI checkpoint (${XAI_CKPT_DIR}/${xaiFileName(0)} not found)`, { file: resolve(path), fix: "pass the directory that holds ckpt-0/" });
    const files = readdirSync(dir).filter((f) => /^tensor\d{5}_\d{3}$/.test(f));
    const n = files.filter((f) => f.endsWith("_000")).length;
    if (n < XAI_GLOBAL_LEAVES + 12 || (n - XAI_GLOBAL_LEAVES) % 12 !== 0)
      throw new WeightFileError(`${dir}: holds ${n} tensor files; a Grok checkpoint has 2 + 12 per layer`, {
        file: dir,
        fix: "the download is incomplete: fetch every tensorNNNNN_000 file of ckpt-0",
      });
    const nLayers = (n - XAI_GLOBAL_LEAVES) / 12;
    const leaves = xaiLeaves(nLayers);
    for (const l of leaves)
      if (!existsSync(join(dir, xaiFileName(l.index))))
        throw new WeightFileError(`${dir}: ${xaiFileName(l.index)} (${l.path}) is missing`, { file: join(dir, xaiFileName(l.index)), tensor: l.name, fix: "download the missing file" });
    let bytes = 0;
    const entries = leaves.map((leaf) => {
      const path = join(dir, xaiFileName(leaf.index));
      const raf = new RandomAccessFile(path);
      try {
        bytes += raf.size;
        return entry(path, raf, leaf);
      } finally {
        raf.close();
      }
    });
    checkWidths(dir, entries);
    return new XaiCheckpointReader(dir, entries, nLayers, bytes);
  }

  get bytesRead(): number {
    return this.read;
  }

  tensors(): readonly TensorInfo[] {
    return this.list;
  }

  find(name: string): TensorInfo | undefined {
    return this.byName.get(name)?.info;
  }

  info(name: string): TensorInfo {
    return this.entry(name).info;
  }

  /** The checkpoint file that holds tensor `name`. */
  fileOf(name: string): string {
    return this.entry(name).path;
  }

  private entry(name: string): Entry {
    const e = this.byName.get(name);
    if (!e) throw new WeightFileError(`${this.file}: tensor '${name}' is not part of the checkpoint`, { file: this.file, tensor: name });
    return e;
  }

  /** Stored int8 (or f32) bytes of the leaf's weight, whole or one expert. */
  private payload(e: Entry, expert?: number): Uint8Array {
    const w = e.weight;
    let offset = w.data.offset;
    let length = w.data.length;
    if (expert !== undefined) {
      const E = w.shape[0]!;
      if (w.shape.length !== 3) throw new WeightFileError(`${e.path}: tensor '${e.info.name}' is not stacked by expert; cannot read expert ${expert}`, { file: e.path, tensor: e.info.name });
      if (!Number.isInteger(expert) || expert < 0 || expert >= E) throw new WeightFileError(`${e.path}: tensor '${e.info.name}': expert ${expert} out of range [0, ${E})`, { file: e.path, tensor: e.info.name });
      length /= E;
      offset += expert * length;
    }
    const raf = new RandomAccessFile(e.path);
    try {
      const b = raf.readAt(offset, length, `tensor '${e.info.name}'`);
      this.read += length;
      return b;
    } finally {
      raf.close();
    }
  }

  readRaw(name: string, expert?: number): RawTensor {
    const e = this.entry(name);
    const shape = expert === undefined ? e.info.shape : e.info.shape.slice(1);
    const bytes = this.payload(e, expert);
    if (!e.leaf.quantized && !e.leaf.transposed) return { dtype: "F32", shape, bytes };
    const f32 = e.leaf.quantized ? undefined : new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const mats = expert === undefined && shape.length === 3 ? shape[0]! : 1;
    const [N, K] = [shape[shape.length - 2]!, shape[shape.length - 1]!];
    if (f32) return { dtype: "F32", shape, bytes: new Uint8Array(transposeF32(f32, mats, K, N).buffer) };
    const q = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const s = this.scalesFor(e, expert);
    if (e.info.dtype === "Q8_0") return { dtype: "Q8_0", shape, bytes: toQ8_0(q, s, mats, K, N, e.groups) };
    return { dtype: "F32", shape, bytes: new Uint8Array(dequantT(q, s, mats, K, N, e.groups).buffer) };
  }

  readF32(name: string, expert?: number): Float32Array {
    const e = this.entry(name);
    if (!e.leaf.quantized) {
      const raw = this.readRaw(name, expert);
      return new Float32Array(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.byteLength / 4);
    }
    const shape = expert === undefined ? e.info.shape : e.info.shape.slice(1);
    const bytes = this.payload(e, expert);
    const mats = shape.length === 3 ? shape[0]! : 1;
    const [N, K] = [shape[shape.length - 2]!, shape[shape.length - 1]!];
    return dequantT(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), this.scalesFor(e, expert), mats, K, N, e.groups);
  }

  /**
   * The checkpoint's own view of quantized tensor `name`: int8 [.., in, out] as stored and f32
   * scales [.., G, out] (whole, or one expert).
   */
  readQuantized(name: string, expert?: number): { q: Int8Array; scales: Float32Array; groups: number } {
    const e = this.entry(name);
    if (!e.leaf.quantized) throw new WeightFileError(`${e.path}: tensor '${name}' is not quantized`, { file: e.path, tensor: name });
    const b = this.payload(e, expert);
    return { q: new Int8Array(b.buffer, b.byteOffset, b.byteLength), scales: this.scalesFor(e, expert), groups: e.groups };
  }

  private scalesFor(e: Entry, expert?: number): Float32Array {
    const s = e.scales!;
    if (expert === undefined) return s;
    const per = s.length / e.weight.shape[0]!;
    return s.subarray(expert * per, (expert + 1) * per);
  }

  close(): void {
    // files are opened per read
  }
}

/** Parse one leaf's file and describe it as a canonical tensor. */
function entry(path: string, raf: RandomAccessFile, leaf: XaiLeaf): Entry {
  const v = xaiLeafValue(path, readPickle(raf));
  const fail = (why: string): never => {
    throw new WeightFileError(`${path}: ${leaf.path} ${why}`, { file: path, tensor: leaf.name, fix: "pass xAI's ckpt-0 files unchanged, with every file in its place" });
  };
  if (leaf.quantized !== (v.kind === "quantized")) fail(leaf.quantized ? "should be a QuantizedWeight8bit but is a plain array" : "should be a float32 array but is a QuantizedWeight8bit");
  const w = v.kind === "quantized" ? v.weight : v.array;
  const rank = w.shape.length;
  if (v.kind === "array") {
    if (w.dtype !== "f32") fail(`is ${w.dtype}; expected float32`);
    const shape = leaf.transposed ? [w.shape[1]!, w.shape[0]!] : [...w.shape];
    if (leaf.transposed && rank !== 2) fail(`has shape [${w.shape.join(", ")}]; expected a matrix`);
    return { info: { name: leaf.name, dtype: "F32", shape, offset: w.data.offset, byteLength: w.data.length }, leaf, path, weight: w, groups: 1 };
  }
  const sa = v.scales;
  if (w.dtype !== "i8") fail(`weight is ${w.dtype}; expected int8`);
  if (sa.dtype !== "bf16" && sa.dtype !== "f32") fail(`scales are ${sa.dtype}; expected bfloat16`);
  if ((rank !== 2 && rank !== 3) || sa.shape.length !== rank) fail(`has weight [${w.shape.join(", ")}] and scales [${sa.shape.join(", ")}]; expected [.., in, out] and [.., G, out]`);
  const K = w.shape[rank - 2]!;
  const N = w.shape[rank - 1]!;
  const G = sa.shape[rank - 2]!;
  if (sa.shape[rank - 1] !== N || (rank === 3 && sa.shape[0] !== w.shape[0]) || G < 1 || K % G !== 0)
    fail(`scales [${sa.shape.join(", ")}] do not fit weight [${w.shape.join(", ")}] (need [.., G, ${N}] with G dividing ${K})`);
  const scales = scalesF32(raf, sa);
  const shape = rank === 3 ? [w.shape[0]!, N, K] : [N, K];
  const n = shape.reduce((a, b) => a * b, 1);
  const q8 = (K / G) % Q8_0_BLOCK === 0 && f16Exact(scales);
  const info: TensorInfo = { name: leaf.name, dtype: q8 ? "Q8_0" : "F32", shape, offset: w.data.offset, byteLength: q8 ? (n / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES : 4 * n };
  return { info, leaf, path, weight: w, scales, groups: G };
}

/** Every tensor's shape against the width D of the embedding and the layer's expert count. */
function checkWidths(dir: string, entries: Entry[]): void {
  const emb = entries[0]!;
  const D = emb.info.shape[1];
  if (emb.info.shape.length !== 2 || D === undefined) throw new WeightFileError(`${emb.path}: the embedding must be [vocab, d_model], got [${emb.info.shape.join(", ")}]`, { file: emb.path });
  for (const e of entries) {
    const s = e.info.shape;
    const base = e.info.name.replace(/^blk\.\d+\./, "");
    const want =
      base.endsWith("norm.weight") ? s.length === 1 && s[0] === D
      : base === "ffn_gate_inp.weight" || base === "attn_q.weight" || base === "attn_k.weight" || base === "attn_v.weight" ? s.length === 2 && s[1] === D
      : base === "attn_output.weight" ? s.length === 2 && s[0] === D
      : base === "ffn_down_exps.weight" ? s.length === 3 && s[1] === D
      : base === "ffn_gate_exps.weight" || base === "ffn_up_exps.weight" ? s.length === 3 && s[2] === D
      : true; // prettier-ignore
    if (!want)
      throw new WeightFileError(`${e.path}: ${e.leaf.path} has canonical shape [${s.join(", ")}], which does not fit d_model ${D} of the embedding (files out of order?)`, {
        file: e.path,
        tensor: e.info.name,
        fix: `check that ${dir} holds the files of one checkpoint, each in its place`,
      });
  }
}

/** [mats, K, N] f32 → [mats, N, K]. */
function transposeF32(a: Float32Array, mats: number, K: number, N: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let m = 0; m < mats; m++) {
    const base = m * K * N;
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) out[base + n * K + k] = a[base + k * N + n]!;
  }
  return out;
}

/** int8 [mats, K, N] × scales [mats, G, N] → exact f32 [mats, N, K]. */
function dequantT(q: Int8Array, s: Float32Array, mats: number, K: number, N: number, G: number): Float32Array {
  const out = new Float32Array(q.length);
  const group = K / G;
  for (let m = 0; m < mats; m++) {
    const base = m * K * N;
    for (let k = 0; k < K; k++) {
      const srow = (m * G + Math.floor(k / group)) * N;
      for (let n = 0; n < N; n++) out[base + n * K + k] = q[base + k * N + n]! * s[srow + n]!;
    }
  }
  return out;
}

/** int8 [mats, K, N] × scales [mats, G, N] → Q8_0 blocks [mats, N, K/32] (each scale repeated over its group's blocks). */
function toQ8_0(q: Int8Array, s: Float32Array, mats: number, K: number, N: number, G: number): Uint8Array {
  const nb = K / Q8_0_BLOCK;
  const out = new Uint8Array(mats * N * nb * Q8_0_BLOCK_BYTES);
  const o8 = new Int8Array(out.buffer);
  const group = K / G;
  for (let m = 0; m < mats; m++) {
    const base = m * K * N;
    for (let n = 0; n < N; n++) {
      const rowOut = (m * N + n) * nb * Q8_0_BLOCK_BYTES;
      for (let b = 0; b < nb; b++) {
        const k0 = b * Q8_0_BLOCK;
        const d = f32ToF16(s[(m * G + Math.floor(k0 / group)) * N + n]!);
        const o = rowOut + b * Q8_0_BLOCK_BYTES;
        out[o] = d & 0xff;
        out[o + 1] = d >>> 8;
        for (let j = 0; j < Q8_0_BLOCK; j++) o8[o + 2 + j] = q[base + (k0 + j) * N + n]!;
      }
    }
  }
  return out;
}
