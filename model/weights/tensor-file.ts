/**
 * The part every weight format shares: positional reads on an open file that
 * count the bytes they read, and a {@link WeightReader} over a validated list
 * of {@link TensorInfo}. Format readers (GGUF, safetensors) only parse their
 * header and hand the tensor list to {@link TensorFileReader}.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { bf16BytesToF32, dequantizeQ8_0, f16BytesToF32, f32BytesToF32, Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from "../dtype.js";
import { WeightFileError } from "../errors.js";
import type { RawTensor, TensorInfo, WeightDType, WeightReader } from "./types.js";

/** Bytes of `n` elements of `dtype` (n a multiple of 32 for Q8_0). */
export function dtypeBytes(dtype: WeightDType, n: number): number {
  switch (dtype) {
    case "F32":
      return 4 * n;
    case "F16":
    case "BF16":
      return 2 * n;
    case "Q8_0":
      return (n / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
  }
}

/** Product of a shape's dimensions (1 for a scalar). */
export function numElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Largest single readSync request (Node rejects lengths of 2 GiB and more). */
const MAX_READ = 1 << 30;

/** An open file with counted positional reads. */
export class RandomAccessFile {
  readonly file: string;
  readonly size: number;
  private fd: number | undefined;
  private read = 0;

  constructor(file: string) {
    this.file = file;
    try {
      this.fd = openSync(file, "r");
      this.size = fstatSync(this.fd).size;
    } catch (e) {
      if (this.fd !== undefined) closeSync(this.fd);
      throw new WeightFileError(`${file}: cannot open weight file: ${(e as Error).message}`, { file, cause: e, fix: "check the path" });
    }
  }

  /** Bytes read so far. */
  get bytesRead(): number {
    return this.read;
  }

  /**
   * Read exactly `length` bytes at `offset` into a fresh buffer (or into `into`, which must hold `length`
   * bytes: a view of its first `length` is returned); throws on a short read.
   */
  readAt(offset: number, length: number, what: string, into?: Uint8Array): Uint8Array {
    if (this.fd === undefined) throw new WeightFileError(`${this.file}: read after close (${what})`, { file: this.file });
    if (offset < 0 || offset + length > this.size)
      throw new WeightFileError(`${this.file}: ${what} lies at bytes [${offset}, ${offset + length}) beyond the end of the file (${this.size} bytes): the file is truncated`, {
        file: this.file,
        fix: "download or convert the file again",
      });
    if (into && into.byteLength < length) throw new RangeError(`${this.file}: a ${into.byteLength}-byte buffer cannot hold ${length} bytes (${what})`);
    const buf = into ? into.subarray(0, length) : new Uint8Array(new ArrayBuffer(length));
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, Math.min(length - done, MAX_READ), offset + done);
      if (n === 0) throw new WeightFileError(`${this.file}: unexpected end of file reading ${what}`, { file: this.file });
      done += n;
    }
    this.read += length;
    return buf;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Bytes of `raw` converted exactly to f32. */
export function rawToF32(raw: RawTensor): Float32Array {
  switch (raw.dtype) {
    case "F32":
      return f32BytesToF32(raw.bytes);
    case "F16":
      return f16BytesToF32(raw.bytes);
    case "BF16":
      return bf16BytesToF32(raw.bytes);
    case "Q8_0":
      return dequantizeQ8_0(raw.bytes);
  }
}

/**
 * Check that tensors lie inside `[dataStart, fileSize)` and do not overlap;
 * throws WeightFileError naming the file and tensor.
 */
export function checkTensorLayout(file: string, tensors: readonly TensorInfo[], dataStart: number, fileSize: number): void {
  for (const t of tensors) {
    if (t.offset < dataStart || t.offset + t.byteLength > fileSize)
      throw new WeightFileError(
        `${file}: tensor '${t.name}' data [${t.offset}, ${t.offset + t.byteLength}) extends past the end of the file (${fileSize} bytes): the file is truncated or corrupt`,
        { file, tensor: t.name, fix: "download or convert the file again" },
      );
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!;
    const t = sorted[i]!;
    if (p.offset + p.byteLength > t.offset)
      throw new WeightFileError(`${file}: tensors '${p.name}' and '${t.name}' overlap (their shapes do not match their byte ranges)`, { file, tensor: t.name });
  }
}

/**
 * Tensors by name, with llama.cpp's alternative name of the post-MoE norm (SPEC.md §9.3,
 * `blk.N.post_ffw_norm.weight`) also answering to the canonical one.
 */
export function tensorsByName<T extends { readonly name: string }>(list: readonly T[]): Map<string, T> {
  const byName = new Map(list.map((t) => [t.name, t]));
  for (const t of list) {
    const m = /^blk\.(\d+)\.post_ffw_norm\.weight$/.exec(t.name);
    const canonical = m && `blk.${m[1]}.layer_output_norm.weight`;
    if (canonical && !byName.has(canonical)) byName.set(canonical, t);
  }
  return byName;
}

/** A {@link WeightReader} over a parsed tensor table. */
export class TensorFileReader implements WeightReader {
  readonly file: string;
  readonly metadata: ReadonlyMap<string, unknown>;
  private readonly raf: RandomAccessFile;
  private readonly list: readonly TensorInfo[];
  private readonly byName: Map<string, TensorInfo>;

  constructor(raf: RandomAccessFile, metadata: ReadonlyMap<string, unknown>, tensors: readonly TensorInfo[]) {
    this.raf = raf;
    this.file = raf.file;
    this.metadata = metadata;
    this.list = Object.freeze(tensors.map((t) => Object.freeze({ ...t, shape: Object.freeze([...t.shape]) })));
    this.byName = tensorsByName(this.list);
  }

  get bytesRead(): number {
    return this.raf.bytesRead;
  }

  /** Size of the file in bytes. */
  get fileSize(): number {
    return this.raf.size;
  }

  tensors(): readonly TensorInfo[] {
    return this.list;
  }

  find(name: string): TensorInfo | undefined {
    return this.byName.get(name);
  }

  info(name: string): TensorInfo {
    const t = this.byName.get(name);
    if (!t)
      throw new WeightFileError(`${this.file}: tensor '${name}' is missing from the weight file`, {
        file: this.file,
        tensor: name,
        fix: "use a weight file converted for this model (see `moe model inspect`)",
      });
    return t;
  }

  readRaw(name: string, expert?: number): RawTensor {
    return this.readInfo(this.info(name), expert);
  }

  /** Stored bytes of tensor `t` of this file (whole, or one expert of a stacked tensor). */
  readInfo(t: TensorInfo, expert?: number): RawTensor {
    const name = t.name;
    if (expert === undefined) return { dtype: t.dtype, shape: t.shape, bytes: this.raf.readAt(t.offset, t.byteLength, `tensor '${name}'`) };
    const E = t.shape[0]!;
    if (t.shape.length !== 3)
      throw new WeightFileError(`${this.file}: tensor '${name}' has shape [${t.shape.join(", ")}], not a stacked [expert, out, in] tensor; cannot read expert ${expert}`, {
        file: this.file,
        tensor: name,
      });
    if (!Number.isInteger(expert) || expert < 0 || expert >= E)
      throw new WeightFileError(`${this.file}: tensor '${name}': expert ${expert} out of range [0, ${E})`, { file: this.file, tensor: name });
    const slice = t.byteLength / E;
    return { dtype: t.dtype, shape: t.shape.slice(1), bytes: this.raf.readAt(t.offset + expert * slice, slice, `tensor '${name}' expert ${expert}`) };
  }

  readF32(name: string, expert?: number): Float32Array {
    return rawToF32(this.readRaw(name, expert));
  }

  readRawRange(name: string, expert: number | undefined, start: number, length: number, into?: Uint8Array): Uint8Array {
    return this.readInfoRange(this.info(name), expert, start, length, into);
  }

  /** Bytes [start, start + length) of tensor `t` (of expert `expert`'s slice), into `into` when given. */
  readInfoRange(t: TensorInfo, expert: number | undefined, start: number, length: number, into?: Uint8Array): Uint8Array {
    const slice = expert === undefined ? t.byteLength : t.byteLength / t.shape[0]!;
    if (expert !== undefined && (t.shape.length !== 3 || !Number.isInteger(expert) || expert < 0 || expert >= t.shape[0]!)) this.readInfo(t, expert); // throws the reason
    if (!(Number.isInteger(start) && Number.isInteger(length) && start >= 0 && length >= 0 && start + length <= slice))
      throw new RangeError(`${this.file}: tensor '${t.name}': bytes [${start}, ${start + length}) are outside its ${slice} bytes`);
    const base = t.offset + (expert ?? 0) * (expert === undefined ? 0 : slice);
    return this.raf.readAt(base + start, length, `tensor '${t.name}'${expert === undefined ? "" : ` expert ${expert}`}`, into);
  }

  /** {@link readInfo} converted exactly to f32. */
  readF32Info(t: TensorInfo, expert?: number): Float32Array {
    return rawToF32(this.readInfo(t, expert));
  }

  close(): void {
    this.raf.close();
  }
}
