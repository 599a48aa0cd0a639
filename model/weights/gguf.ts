/**
 * GGUF v2/v3 reader (little endian). Parses the header, every KV pair and the
 * tensor table with bounds checks (no allocation is sized by an unchecked
 * length), then serves tensors by positional reads of only their bytes.
 * Shapes are reported row-major: GGUF `ne` reversed.
 */
import { Q8_0_BLOCK } from "../dtype.js";
import { WeightFileError } from "../errors.js";
import {
  alignUp,
  GGML_DTYPES,
  GGML_MAX_DIMS,
  GGML_OTHER_TYPE_NAMES,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_SCALAR_BYTES,
  GGUF_VALUE_TYPES,
  GGUF_VERSIONS,
  type GgufValueType,
} from "./gguf-format.js";
import { checkTensorLayout, dtypeBytes, numElements, RandomAccessFile, TensorFileReader } from "./tensor-file.js";
import type { TensorInfo } from "./types.js";

/** One metadata pair as stored. Integers beyond 2^53 are `bigint`. */
export interface GgufKV {
  readonly key: string;
  readonly type: GgufValueType;
  /** Element type when `type` is "array". */
  readonly arrayType?: GgufValueType;
  readonly value: unknown;
}

/** Longest key GGUF allows (bytes). */
const MAX_KEY_BYTES = 65535;
/** Header bytes fetched per read while parsing. */
const CHUNK = 1 << 16;
/** Nesting limit for arrays of arrays. */
const MAX_ARRAY_DEPTH = 4;

/**
 * GGUF strings are bytes: decode them exactly, keeping a leading U+FEFF (a default TextDecoder
 * strips it as a byte-order mark, which merged distinct vocabulary pieces). Invalid UTF-8 is
 * decoded with U+FFFD replacements and reported by key ({@link GgufReader.invalidUtf8}).
 */
const EXACT_UTF8 = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });
const LOSSY_UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** Buffered forward cursor over the header; every read is bounds-checked against the file size. */
class HeaderCursor {
  pos = 0;
  /** Set when a string was not valid UTF-8 (decoded with replacements). */
  lossy = false;
  private buf: Uint8Array = new Uint8Array(0);
  private dv = new DataView(this.buf.buffer);
  private bufStart = 0;
  constructor(private readonly raf: RandomAccessFile) {}

  get remaining(): number {
    return this.raf.size - this.pos;
  }

  fail(what: string): never {
    throw new WeightFileError(`${this.raf.file}: GGUF header truncated while reading ${what} at byte ${this.pos} (file is ${this.raf.size} bytes)`, {
      file: this.raf.file,
      fix: "the file is incomplete or not a GGUF file; download or convert it again",
    });
  }

  private need(n: number, what: string): number {
    if (this.pos + n > this.raf.size) this.fail(what);
    if (this.pos + n > this.bufStart + this.buf.length) {
      const len = Math.min(Math.max(n, CHUNK), this.raf.size - this.pos);
      this.buf = this.raf.readAt(this.pos, len, "GGUF header");
      this.dv = new DataView(this.buf.buffer);
      this.bufStart = this.pos;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  // Offsets first: `need` may replace the buffer and its DataView.
  u8(w: string) { const at = this.need(1, w); return this.buf[at]!; } // prettier-ignore
  i8(w: string) { const at = this.need(1, w); return this.dv.getInt8(at); } // prettier-ignore
  u16(w: string) { const at = this.need(2, w); return this.dv.getUint16(at, true); } // prettier-ignore
  i16(w: string) { const at = this.need(2, w); return this.dv.getInt16(at, true); } // prettier-ignore
  u32(w: string) { const at = this.need(4, w); return this.dv.getUint32(at, true); } // prettier-ignore
  i32(w: string) { const at = this.need(4, w); return this.dv.getInt32(at, true); } // prettier-ignore
  f32(w: string) { const at = this.need(4, w); return this.dv.getFloat32(at, true); } // prettier-ignore
  f64(w: string) { const at = this.need(8, w); return this.dv.getFloat64(at, true); } // prettier-ignore
  /** u64 as a number when exact, else bigint. */
  u64(w: string): number | bigint {
    const at = this.need(8, w);
    const v = this.dv.getBigUint64(at, true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(w: string): number | bigint {
    const at = this.need(8, w);
    const v = this.dv.getBigInt64(at, true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  /** A u64 count/length bounded by `max`; a larger value means a corrupt file. */
  count(w: string, max: number): number {
    const v = this.u64(w);
    if (typeof v === "bigint" || v > max)
      throw new WeightFileError(`${this.raf.file}: corrupt GGUF header: ${w} is ${v}, more than the file can hold (at most ${max})`, {
        file: this.raf.file,
        fix: "the file is corrupt; download or convert it again",
      });
    return v;
  }
  bytes(n: number, w: string): Uint8Array {
    const at = this.need(n, w);
    return this.buf.subarray(at, at + n);
  }
  string(w: string, max = this.remaining): string {
    const n = this.count(`${w} length`, Math.min(max, this.remaining));
    const b = this.bytes(n, w);
    try {
      return EXACT_UTF8.decode(b);
    } catch {
      this.lossy = true;
      return LOSSY_UTF8.decode(b);
    }
  }
}

function readValue(c: HeaderCursor, type: GgufValueType, w: string, depth: number): unknown {
  switch (type) {
    case "u8": return c.u8(w); // prettier-ignore
    case "i8": return c.i8(w); // prettier-ignore
    case "u16": return c.u16(w); // prettier-ignore
    case "i16": return c.i16(w); // prettier-ignore
    case "u32": return c.u32(w); // prettier-ignore
    case "i32": return c.i32(w); // prettier-ignore
    case "f32": return c.f32(w); // prettier-ignore
    case "f64": return c.f64(w); // prettier-ignore
    case "u64": return c.u64(w); // prettier-ignore
    case "i64": return c.i64(w); // prettier-ignore
    case "bool": return c.u8(w) !== 0; // prettier-ignore
    case "string": return c.string(w); // prettier-ignore
    case "array": {
      if (depth >= MAX_ARRAY_DEPTH) throw new WeightFileError(`corrupt GGUF header: ${w} nests arrays deeper than ${MAX_ARRAY_DEPTH}`);
      const et = valueType(c, c.u32(`${w} element type`), w);
      const minSize = GGUF_SCALAR_BYTES[et] ?? (et === "string" ? 8 : 12);
      const n = c.count(`${w} element count`, Math.floor(c.remaining / minSize));
      const out: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(c, et, w, depth + 1);
      return out;
    }
  }
}

function valueType(c: HeaderCursor, id: number, w: string): GgufValueType {
  const t = GGUF_VALUE_TYPES[id];
  if (!t) c.fail(`${w}: unknown metadata value type ${id}`);
  return t!;
}

/** A GGUF file opened for range reads. */
export class GgufReader extends TensorFileReader {
  /** Format version (2 or 3). */
  readonly version: number;
  /** Every KV pair in file order, with its stored type. */
  readonly kv: readonly GgufKV[];
  /** Data alignment in bytes (`general.alignment`, default 32). */
  readonly alignment: number;
  /** Absolute offset of the tensor data section. */
  readonly dataOffset: number;
  /** Tensors in the file's header (`tensors()` may add views of a fused attn_qkv after them). */
  readonly tensorCount: number;
  /** Metadata keys (and `tensor names`) holding strings that are not valid UTF-8 (decoded with U+FFFD). */
  readonly invalidUtf8: readonly string[];

  private constructor(raf: RandomAccessFile, h: ParsedHeader) {
    const metadata = new Map(h.kv.map((p) => [p.key, p.value]));
    super(raf, metadata, [...h.tensors, ...splitFusedQkv(h.tensors, metadata)]);
    this.version = h.version;
    this.kv = h.kv;
    this.alignment = h.alignment;
    this.dataOffset = h.dataOffset;
    this.invalidUtf8 = h.invalidUtf8;
    this.tensorCount = h.tensors.length;
  }

  /** The tensors of the header, in file order (without views of a fused attn_qkv). */
  storedTensors(): readonly TensorInfo[] {
    return this.tensors().slice(0, this.tensorCount);
  }

  /** Open and validate `file`; throws WeightFileError naming the file (and tensor) on any problem. */
  static open(file: string): GgufReader {
    const raf = new RandomAccessFile(file);
    try {
      return new GgufReader(raf, parseHeader(raf));
    } catch (e) {
      raf.close();
      if (e instanceof WeightFileError && !e.message.startsWith(file)) throw new WeightFileError(`${file}: ${e.message}`, { file, cause: e });
      throw e;
    }
  }
}

/**
 * llama.cpp's optional fused `blk.N.attn_qkv.weight` ([q + 2·kv, in], SPEC.md §9.3) as three views —
 * `attn_q`, `attn_k`, `attn_v` — over its contiguous row ranges, when the file has no separate ones.
 * Head counts and sizes come from the `grok.attention.*` metadata; a shape that does not add up is left
 * alone (the model check then names the missing tensor).
 */
export function splitFusedQkv(tensors: readonly TensorInfo[], md: ReadonlyMap<string, unknown>): TensorInfo[] {
  const num = (k: string) => {
    const v = md.get(k);
    return typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : undefined;
  };
  const heads = num("grok.attention.head_count");
  const kvHeads = num("grok.attention.head_count_kv") ?? heads;
  const dModel = num("grok.embedding_length");
  const headDim = num("grok.attention.key_length") ?? (dModel !== undefined && heads ? dModel / heads : undefined);
  if (!heads || !kvHeads || !headDim) return [];
  const names = new Set(tensors.map((t) => t.name));
  const out: TensorInfo[] = [];
  for (const t of tensors) {
    const m = /^blk\.(\d+)\.attn_qkv\.weight$/.exec(t.name);
    if (!m || names.has(`blk.${m[1]}.attn_q.weight`) || t.shape.length !== 2) continue;
    const [rows, inDim] = [t.shape[0]!, t.shape[1]!];
    const q = heads * headDim;
    const kv = kvHeads * headDim;
    if (rows !== q + 2 * kv) continue;
    const rowBytes = t.byteLength / rows;
    let start = 0;
    for (const [part, n] of [["q", q], ["k", kv], ["v", kv]] as const) {
      out.push({ name: `blk.${m[1]}.attn_${part}.weight`, dtype: t.dtype, shape: [n, inDim], offset: t.offset + start * rowBytes, byteLength: n * rowBytes });
      start += n;
    }
  }
  return out;
}

/** Open a GGUF file (v2 or v3). */
export function openGguf(file: string): GgufReader {
  return GgufReader.open(file);
}

interface ParsedHeader {
  version: number;
  kv: GgufKV[];
  tensors: TensorInfo[];
  alignment: number;
  dataOffset: number;
  invalidUtf8: string[];
}

function parseHeader(raf: RandomAccessFile): ParsedHeader {
  const file = raf.file;
  const c = new HeaderCursor(raf);
  if (raf.size < 4) c.fail("the magic");
  const magic = c.u32("the magic");
  if (magic !== GGUF_MAGIC)
    throw new WeightFileError(`${file}: not a GGUF file (bad magic 0x${magic.toString(16).padStart(8, "0")}, expected "GGUF")`, {
      file,
      fix: "pass a .gguf file, or a model directory",
    });
  const version = c.u32("the version");
  if (!GGUF_VERSIONS.includes(version))
    throw new WeightFileError(`${file}: unsupported GGUF version ${version}${version > 0xffff ? " (big-endian GGUF?)" : ""}; supported: ${GGUF_VERSIONS.join(", ")}`, {
      file,
      fix: "re-convert the model with a current llama.cpp converter",
    });
  const nTensors = c.count("tensor count", Math.floor(c.remaining / 24));
  const nKv = c.count("metadata KV count", Math.floor(c.remaining / 13));
  const kv: GgufKV[] = [];
  const invalidUtf8: string[] = [];
  for (let i = 0; i < nKv; i++) {
    c.lossy = false;
    const key = c.string(`metadata key #${i}`, MAX_KEY_BYTES);
    const type = valueType(c, c.u32(`type of '${key}'`), key);
    const arrayType = type === "array" ? peekArrayType(c) : undefined;
    kv.push({ key, type, ...(arrayType ? { arrayType } : {}), value: readValue(c, type, `metadata '${key}'`, 0) });
    if (c.lossy) invalidUtf8.push(key);
  }
  c.lossy = false;
  const alignment = alignmentOf(file, kv);
  const infos: Array<{ name: string; ne: number[]; typeId: number; rel: number }> = [];
  for (let i = 0; i < nTensors; i++) {
    const name = c.string(`tensor #${i} name`, MAX_KEY_BYTES);
    const nd = c.u32(`tensor '${name}' n_dims`);
    if (nd < 1 || nd > GGML_MAX_DIMS) throw new WeightFileError(`${file}: tensor '${name}' has ${nd} dimensions (1..${GGML_MAX_DIMS} allowed): corrupt header`, { file, tensor: name });
    const ne: number[] = [];
    for (let d = 0; d < nd; d++) ne.push(c.count(`tensor '${name}' ne[${d}]`, raf.size));
    const typeId = c.u32(`tensor '${name}' type`);
    const rel = c.count(`tensor '${name}' offset`, raf.size);
    infos.push({ name, ne, typeId, rel });
  }
  const dataOffset = alignUp(c.pos, alignment);
  const seen = new Set<string>();
  const tensors = infos.map((info) => {
    if (seen.has(info.name)) throw new WeightFileError(`${file}: tensor '${info.name}' appears twice`, { file, tensor: info.name });
    seen.add(info.name);
    return tensorInfo(file, raf.size, info, alignment, dataOffset);
  });
  checkTensorLayout(file, tensors, dataOffset, raf.size);
  if (c.lossy) invalidUtf8.push("tensor names");
  return { version, kv, tensors, alignment, dataOffset, invalidUtf8 };
}

/** Validate one raw tensor info and place it in the file. */
function tensorInfo(file: string, size: number, raw: { name: string; ne: number[]; typeId: number; rel: number }, alignment: number, dataOffset: number): TensorInfo {
  const { name, ne, typeId, rel } = raw;
  const dtype = GGML_DTYPES.get(typeId);
  if (!dtype) {
    const known = GGML_OTHER_TYPE_NAMES[typeId];
    throw new WeightFileError(`${file}: tensor '${name}' has unsupported ggml dtype id ${typeId}${known ? ` (${known})` : ""}; supported: F32 (0), F16 (1), Q8_0 (8), BF16 (30)`, {
      file,
      tensor: name,
      fix: "re-convert the model to F32, F16, BF16 or Q8_0",
    });
  }
  if (ne.some((n) => n < 1)) throw new WeightFileError(`${file}: tensor '${name}' has an empty dimension (ne [${ne.join(", ")}])`, { file, tensor: name });
  const n = numElements(ne);
  if (n > size) throw new WeightFileError(`${file}: tensor '${name}' ne [${ne.join(", ")}] holds more elements than the file has bytes: corrupt header`, { file, tensor: name });
  if (dtype === "Q8_0" && ne[0]! % Q8_0_BLOCK !== 0)
    throw new WeightFileError(`${file}: Q8_0 tensor '${name}' has rows of ${ne[0]} values, not a multiple of ${Q8_0_BLOCK}`, { file, tensor: name });
  if (rel % alignment !== 0)
    throw new WeightFileError(`${file}: tensor '${name}' data offset ${rel} is not a multiple of the alignment ${alignment}: corrupt header`, { file, tensor: name });
  return { name, dtype, shape: [...ne].reverse(), offset: dataOffset + rel, byteLength: dtypeBytes(dtype, n) };
}

/** Element type of the array whose value comes next (the cursor is not moved). */
function peekArrayType(c: HeaderCursor): GgufValueType | undefined {
  const at = c.pos;
  const id = c.u32("array element type");
  c.pos = at;
  return GGUF_VALUE_TYPES[id];
}

function alignmentOf(file: string, kv: readonly GgufKV[]): number {
  const p = kv.find((x) => x.key === "general.alignment");
  if (!p) return GGUF_DEFAULT_ALIGNMENT;
  const a = p.value;
  if (typeof a !== "number" || !Number.isInteger(a) || a < 1 || a > 1 << 20 || (a & (a - 1)) !== 0)
    throw new WeightFileError(`${file}: general.alignment ${String(a)} is not a power of two`, { file, field: "general.alignment" });
  return a;
}
