/**
 * safetensors writer. Deterministic: compact JSON header (`__metadata__`
 * first, then tensors in the order given, contiguous data offsets) padded
 * with spaces to a multiple of 8 bytes, as the reference implementation does.
 */
import { closeSync, openSync } from "node:fs";
import { dtypeBytes, numElements, SAFETENSORS_DTYPES, WeightFileError, type WeightDType } from "../model/index.js";
import { writeAll } from "./gguf-writer.js";

/** One tensor to write: stored little-endian bytes of a row-major array, whole or streamed. */
export type SafetensorsTensorInput = {
  readonly name: string;
  /** F32, F16 or BF16. */
  readonly dtype: WeightDType;
  readonly shape: readonly number[];
} & ({ readonly data: Uint8Array; readonly chunks?: undefined } | { readonly data?: undefined; /** Called once, when the tensor is written. */ readonly chunks: () => Iterable<Uint8Array> });

const byteLength = (t: SafetensorsTensorInput) => dtypeBytes(t.dtype, numElements(t.shape));

export interface SafetensorsWriteInput {
  /** String-to-string `__metadata__` (e.g. `{format: "pt"}`). */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly tensors: readonly SafetensorsTensorInput[];
}

/** Encode the 8-byte length and JSON header. Exposed for tests. */
export function encodeSafetensorsHeader(input: SafetensorsWriteInput): Uint8Array {
  const header: Record<string, unknown> = {};
  if (input.metadata) header.__metadata__ = { ...input.metadata };
  let off = 0;
  for (const t of input.tensors) {
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [off, off + byteLength(t)] };
    off += byteLength(t);
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

/** Write a safetensors file at `path` (overwrites). */
export function writeSafetensors(path: string, input: SafetensorsWriteInput): void {
  const names = new Set<string>();
  for (const t of input.tensors) {
    const bad = (what: string) => new WeightFileError(`${path}: cannot write tensor '${t.name}': ${what}`, { file: path, tensor: t.name });
    if (t.name === "__metadata__" || names.has(t.name)) throw bad("duplicate or reserved name");
    names.add(t.name);
    if (!SAFETENSORS_DTYPES.includes(t.dtype)) throw bad(`dtype ${t.dtype} is not supported in safetensors (use F32, F16 or BF16)`);
    const want = byteLength(t);
    if (t.data && t.data.length !== want) throw bad(`shape [${t.shape.join(", ")}] of ${t.dtype} needs ${want} bytes, data has ${t.data.length}`);
  }
  for (const [k, v] of Object.entries(input.metadata ?? {}))
    if (typeof v !== "string") throw new WeightFileError(`${path}: __metadata__ value of '${k}' must be a string`, { file: path, field: k });
  const fd = openSync(path, "w");
  try {
    writeAll(fd, encodeSafetensorsHeader(input));
    for (const t of input.tensors) {
      let n = 0;
      for (const c of t.data ? [t.data] : t.chunks()) {
        writeAll(fd, c);
        n += c.length;
      }
      if (n !== byteLength(t)) throw new WeightFileError(`${path}: tensor '${t.name}' streamed ${n} bytes, expected ${byteLength(t)}`, { file: path, tensor: t.name });
    }
  } finally {
    closeSync(fd);
  }
}
