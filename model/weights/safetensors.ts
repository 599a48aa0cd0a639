/**
 * safetensors reader: u64 LE header length N, N bytes of JSON
 * (`{"__metadata__": {str: str}, name: {dtype, shape, data_offsets: [begin, end]}}`,
 * offsets relative to the data that follows), then the data. Supports F32,
 * F16 and BF16; every entry is validated against the file before use.
 */
import { WeightFileError } from "../errors.js";
import { checkTensorLayout, dtypeBytes, numElements, RandomAccessFile, TensorFileReader } from "./tensor-file.js";
import type { TensorInfo, WeightDType } from "./types.js";

/** safetensors dtypes this project reads. */
export const SAFETENSORS_DTYPES: readonly WeightDType[] = ["F32", "F16", "BF16"];

/** Largest JSON header accepted (bytes), as in the reference implementation. */
export const SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024;

/** A safetensors file opened for range reads. `metadata` holds `__metadata__`. */
export class SafetensorsReader extends TensorFileReader {
  /** Absolute offset of the data section (8 + header length). */
  readonly dataOffset: number;

  private constructor(raf: RandomAccessFile, metadata: Map<string, unknown>, tensors: TensorInfo[], dataOffset: number) {
    super(raf, metadata, tensors);
    this.dataOffset = dataOffset;
  }

  /** Open and validate `file`; throws WeightFileError naming the file (and tensor) on any problem. */
  static open(file: string): SafetensorsReader {
    const raf = new RandomAccessFile(file);
    try {
      const { metadata, tensors, dataOffset } = parseHeader(raf);
      return new SafetensorsReader(raf, metadata, tensors, dataOffset);
    } catch (e) {
      raf.close();
      throw e;
    }
  }
}

/** Open a safetensors file. */
export function openSafetensors(file: string): SafetensorsReader {
  return SafetensorsReader.open(file);
}

function parseHeader(raf: RandomAccessFile): { metadata: Map<string, unknown>; tensors: TensorInfo[]; dataOffset: number } {
  const file = raf.file;
  const fix = "the file is truncated or not a safetensors file; download or convert it again";
  if (raf.size < 8) throw new WeightFileError(`${file}: too short for a safetensors file (${raf.size} bytes)`, { file, fix });
  const n = new DataView(raf.readAt(0, 8, "safetensors header length").buffer).getBigUint64(0, true);
  if (n > BigInt(Math.min(SAFETENSORS_MAX_HEADER, raf.size - 8)))
    throw new WeightFileError(`${file}: safetensors header length ${n} exceeds the file (${raf.size} bytes) or the ${SAFETENSORS_MAX_HEADER}-byte limit`, { file, fix });
  const len = Number(n);
  let text: string;
  try {
    // exact: a leading U+FEFF is part of the text (JSON.parse then rejects it), not dropped as a BOM
    text = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true }).decode(raf.readAt(8, len, "safetensors JSON header"));
  } catch (e) {
    throw new WeightFileError(`${file}: safetensors JSON header is not valid UTF-8`, { file, cause: e, fix });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new WeightFileError(`${file}: safetensors JSON header is not valid JSON: ${(e as Error).message}`, { file, cause: e, fix });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new WeightFileError(`${file}: safetensors header must be a JSON object`, { file, fix });
  const dataOffset = 8 + len;
  const metadata = new Map<string, unknown>();
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new WeightFileError(`${file}: __metadata__ must be an object of strings`, { file });
      for (const [k, v] of Object.entries(entry)) metadata.set(k, v);
      continue;
    }
    tensors.push(parseEntry(file, name, entry, dataOffset, raf.size));
  }
  tensors.sort((a, b) => a.offset - b.offset);
  checkTensorLayout(file, tensors, dataOffset, raf.size);
  return { metadata, tensors, dataOffset };
}

function parseEntry(file: string, name: string, entry: unknown, dataOffset: number, size: number): TensorInfo {
  const bad = (what: string) => new WeightFileError(`${file}: tensor '${name}': ${what}`, { file, tensor: name });
  if (typeof entry !== "object" || entry === null) throw bad("entry must be an object {dtype, shape, data_offsets}");
  const { dtype, shape, data_offsets: off } = entry as Record<string, unknown>;
  if (typeof dtype !== "string") throw bad("missing dtype");
  if (!SAFETENSORS_DTYPES.includes(dtype as WeightDType))
    throw new WeightFileError(`${file}: tensor '${name}' has unsupported safetensors dtype ${dtype}; supported: ${SAFETENSORS_DTYPES.join(", ")}`, {
      file,
      tensor: name,
      fix: "convert the weights to F32, F16 or BF16",
    });
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw bad(`data_offsets ${JSON.stringify(off)} must be [begin, end] non-negative integers`);
  const [begin, end] = off as [number, number];
  if (begin > end || dataOffset + end > size)
    throw new WeightFileError(
      `${file}: tensor '${name}' data_offsets [${begin}, ${end}] lie outside the data section (${size - dataOffset} bytes): the file is truncated or corrupt`,
      { file, tensor: name, fix: "download or convert the file again" },
    );
  const want = dtypeBytes(dtype as WeightDType, numElements(shape as number[]));
  if (end - begin !== want) throw bad(`shape [${shape.join(", ")}] of ${dtype} needs ${want} bytes but data_offsets span ${end - begin}`);
  return { name, dtype: dtype as WeightDType, shape: shape as number[], offset: dataOffset + begin, byteLength: want };
}
