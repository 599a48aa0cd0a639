/**
 * GGUF v3 writer. Deterministic: the same input always gives the same bytes
 * (KV pairs and tensors in the order given, zero padding, no timestamps).
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { Q8_0_BLOCK } from "../dtype.js";
import { WeightFileError } from "../errors.js";
import { alignUp, GGML_TYPE_IDS, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VALUE_TYPES, type GgufValueType } from "./gguf-format.js";
import { dtypeBytes, numElements } from "./tensor-file.js";
import type { WeightDType } from "./types.js";

/** A scalar metadata value. */
export type GgufScalar = string | number | boolean | bigint;
/** A metadata value: a scalar or an array of scalars. */
export type GgufValue = GgufScalar | readonly GgufScalar[];
/**
 * One KV pair: key, value and optionally its stored type (for an array, the
 * ELEMENT type). Inferred when omitted: string, bool, u32 / i32 / u64 / i64
 * for integers by range, f32 for other numbers; arrays of integers i32.
 */
export type GgufMetaEntry = readonly [key: string, value: GgufValue, type?: Exclude<GgufValueType, "array">];

/** One tensor to write; `data` holds the stored bytes (little endian). */
export interface GgufTensorInput {
  readonly name: string;
  readonly dtype: WeightDType;
  /** Row-major shape ([out, in], [expert, out, in]); written as GGUF `ne` reversed. */
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

export interface GgufWriteInput {
  readonly metadata: readonly GgufMetaEntry[];
  readonly tensors: readonly GgufTensorInput[];
  /** Data alignment in bytes (default 32); written as `general.alignment` when not 32. */
  readonly alignment?: number;
}

/**
 * Growable little-endian byte builder for the header. Every write reserves its bytes (`grow`, which may
 * replace `buf`/`dv`) before touching `buf`/`dv`: `this.dv.setX(this.grow(n), …)` would write into the old buffer.
 */
class Bytes {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  length = 0;
  private grow(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.dv = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  u8(v: number) { const at = this.grow(1); this.dv.setUint8(at, v); } // prettier-ignore
  i8(v: number) { const at = this.grow(1); this.dv.setInt8(at, v); } // prettier-ignore
  u16(v: number) { const at = this.grow(2); this.dv.setUint16(at, v, true); } // prettier-ignore
  i16(v: number) { const at = this.grow(2); this.dv.setInt16(at, v, true); } // prettier-ignore
  u32(v: number) { const at = this.grow(4); this.dv.setUint32(at, v, true); } // prettier-ignore
  i32(v: number) { const at = this.grow(4); this.dv.setInt32(at, v, true); } // prettier-ignore
  f32(v: number) { const at = this.grow(4); this.dv.setFloat32(at, v, true); } // prettier-ignore
  f64(v: number) { const at = this.grow(8); this.dv.setFloat64(at, v, true); } // prettier-ignore
  u64(v: number | bigint) { const at = this.grow(8); this.dv.setBigUint64(at, BigInt(v), true); } // prettier-ignore
  i64(v: number | bigint) { const at = this.grow(8); this.dv.setBigInt64(at, BigInt(v), true); } // prettier-ignore
  raw(b: Uint8Array) { const at = this.grow(b.length); this.buf.set(b, at); } // prettier-ignore
  string(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.raw(b);
  }
  pad(align: number) {
    this.grow(alignUp(this.length, align) - this.length);
  }
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function inferScalar(v: GgufScalar): Exclude<GgufValueType, "array"> {
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "bigint") return v < 0n ? "i64" : "u64";
  if (!Number.isInteger(v)) return "f32";
  if (v >= 0) return v <= 0xffffffff ? "u32" : "u64";
  return v >= -0x80000000 ? "i32" : "i64";
}

function inferArray(a: readonly GgufScalar[]): Exclude<GgufValueType, "array"> {
  if (a.length === 0) return "i32";
  if (a.every((x) => typeof x === "string")) return "string";
  if (a.every((x) => typeof x === "boolean")) return "bool";
  if (a.every((x) => typeof x === "number" && Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff)) return "i32";
  if (a.every((x) => typeof x === "number")) return "f32";
  throw new RangeError("GGUF array elements must share one type");
}

function writeScalar(b: Bytes, t: Exclude<GgufValueType, "array">, v: GgufScalar, key: string): void {
  const isNum = typeof v === "number" || typeof v === "bigint";
  const bad = () => new RangeError(`GGUF metadata '${key}': value ${String(v)} does not fit type ${t}`);
  if (t === "string") {
    if (typeof v !== "string") throw bad();
    return b.string(v);
  }
  if (t === "bool") {
    if (typeof v !== "boolean") throw bad();
    return b.u8(v ? 1 : 0);
  }
  if (!isNum) throw bad();
  if (t === "u64" || t === "i64") return t === "u64" ? b.u64(v) : b.i64(v);
  const n = Number(v);
  const ranges: Partial<Record<GgufValueType, [number, number]>> = { u8: [0, 255], i8: [-128, 127], u16: [0, 65535], i16: [-32768, 32767], u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff] };
  const r = ranges[t];
  if (r && (!Number.isInteger(n) || n < r[0] || n > r[1])) throw bad();
  (b[t as "u8"] as (x: number) => void).call(b, n);
}

/** Encode the header (everything before the tensor data, padded). Exposed for tests. */
export function encodeGgufHeader(input: GgufWriteInput): { header: Uint8Array; offsets: number[]; alignment: number } {
  const meta = [...input.metadata];
  const given = meta.find(([k]) => k === "general.alignment");
  const alignment = given ? Number(given[1]) : (input.alignment ?? GGUF_DEFAULT_ALIGNMENT);
  if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) throw new RangeError(`GGUF alignment ${alignment} must be a power of two`);
  if (input.alignment !== undefined && input.alignment !== alignment) throw new RangeError(`general.alignment ${alignment} disagrees with alignment option ${input.alignment}`);
  if (!given && alignment !== GGUF_DEFAULT_ALIGNMENT) meta.push(["general.alignment", alignment, "u32"]);
  const b = new Bytes();
  b.u32(GGUF_MAGIC);
  b.u32(3);
  b.u64(input.tensors.length);
  b.u64(meta.length);
  for (const [key, value, type] of meta) {
    b.string(key);
    if (Array.isArray(value)) {
      const et = type ?? inferArray(value);
      b.u32(GGUF_VALUE_TYPES.indexOf("array"));
      b.u32(GGUF_VALUE_TYPES.indexOf(et));
      b.u64(value.length);
      for (const x of value as readonly GgufScalar[]) writeScalar(b, et, x, key);
    } else {
      const t = type ?? inferScalar(value as GgufScalar);
      b.u32(GGUF_VALUE_TYPES.indexOf(t));
      writeScalar(b, t, value as GgufScalar, key);
    }
  }
  const offsets: number[] = [];
  let rel = 0;
  for (const t of input.tensors) {
    b.string(t.name);
    b.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) b.u64(d);
    b.u32(GGML_TYPE_IDS[t.dtype]);
    b.u64(rel);
    offsets.push(rel);
    rel = alignUp(rel + t.data.length, alignment);
  }
  b.pad(alignment);
  return { header: b.bytes(), offsets, alignment };
}

function checkTensor(file: string, t: GgufTensorInput): void {
  const bad = (what: string) => new WeightFileError(`${file}: cannot write tensor '${t.name}': ${what}`, { file, tensor: t.name });
  if (!(t.dtype in GGML_TYPE_IDS)) throw bad(`unsupported dtype ${String(t.dtype)}`);
  if (t.shape.length < 1 || t.shape.length > 4 || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 1)) throw bad(`bad shape [${t.shape.join(", ")}]`);
  if (t.dtype === "Q8_0" && t.shape[t.shape.length - 1]! % Q8_0_BLOCK !== 0) throw bad(`Q8_0 rows must be a multiple of ${Q8_0_BLOCK} values`);
  const want = dtypeBytes(t.dtype, numElements(t.shape));
  if (t.data.length !== want) throw bad(`shape [${t.shape.join(", ")}] of ${t.dtype} needs ${want} bytes, data has ${t.data.length}`);
}

/** Write a GGUF v3 file at `path` (overwrites). */
export function writeGguf(path: string, input: GgufWriteInput): void {
  for (const t of input.tensors) checkTensor(path, t);
  const { header, alignment } = encodeGgufHeader(input);
  const fd = openSync(path, "w");
  try {
    writeAll(fd, header);
    const zeros = new Uint8Array(alignment);
    for (const t of input.tensors) {
      writeAll(fd, t.data);
      const pad = alignUp(t.data.length, alignment) - t.data.length;
      if (pad) writeAll(fd, zeros.subarray(0, pad));
    }
  } finally {
    closeSync(fd);
  }
}

/** writeSync until every byte is written. */
export function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}
