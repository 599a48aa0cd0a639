/**
 * Write a GGUF as a `gguf-split` set (llama.cpp's layout): `PREFIX-00001-of-0000N.gguf` …, the
 * first holding every metadata pair, each carrying `split.no`, `split.count` and
 * `split.tensors.count`, tensors in file order, whole tensors per split. Data is streamed tensor by
 * tensor, so the source may be larger than memory.
 */
import { join } from "node:path";
import { GGUF_SPLIT_KEYS, ggufSplitName, isGguf, openWeights, WeightFileError, type GgufKV, type TensorInfo, type WeightReader } from "../model/index.js";
import { writeGguf, type GgufMetaEntry, type GgufScalar } from "./gguf-writer.js";

/** How to cut: into `parts` files of near-equal tensor counts, or at most `maxTensors` per file. */
export type SplitOptions = { readonly parts: number } | { readonly maxTensors: number };

/** A stored metadata pair as a writer entry (same key, value and type). */
export function metaEntry(kv: GgufKV): GgufMetaEntry {
  if (kv.type === "array") {
    if (!kv.arrayType || kv.arrayType === "array") throw new RangeError(`GGUF metadata '${kv.key}': arrays of arrays cannot be copied`);
    return [kv.key, kv.value as readonly GgufScalar[], kv.arrayType];
  }
  return [kv.key, kv.value as GgufScalar, kv.type];
}

/** Tensor groups of a split: consecutive, whole tensors. */
function groups(tensors: readonly TensorInfo[], opts: SplitOptions): TensorInfo[][] {
  const n = tensors.length;
  const parts = "parts" in opts ? opts.parts : Math.ceil(n / opts.maxTensors);
  if (!Number.isInteger(parts) || parts < 1 || parts > n || parts > 99999) throw new RangeError(`cannot split ${n} tensors into ${parts} files`);
  const out: TensorInfo[][] = [];
  for (let i = 0; i < parts; i++) out.push(tensors.slice(Math.floor((i * n) / parts), Math.floor(((i + 1) * n) / parts)));
  return out;
}

/**
 * Split the GGUF `source` into `outDir/PREFIX-0000i-of-0000n.gguf`.
 * @returns the paths written, first split first
 */
export function splitGguf(source: string, outDir: string, prefix: string, opts: SplitOptions): string[] {
  const r = openWeights(source);
  try {
    if (!isGguf(r)) throw new WeightFileError(`${source}: not a GGUF file`, { file: source });
    const tensors = r.storedTensors();
    const parts = groups(tensors, opts);
    const splitKeys: readonly string[] = Object.values(GGUF_SPLIT_KEYS);
    const base = r.kv.filter((kv) => !splitKeys.includes(kv.key)).map(metaEntry);
    return parts.map((part, i) => {
      const split: GgufMetaEntry[] = [
        [GGUF_SPLIT_KEYS.no, i, "u16"],
        [GGUF_SPLIT_KEYS.count, parts.length, "u16"],
        [GGUF_SPLIT_KEYS.tensors, tensors.length, "i32"],
      ];
      const path = join(outDir, ggufSplitName(prefix, i, parts.length));
      writeGguf(path, {
        metadata: i === 0 ? [...base, ...split] : split,
        tensors: part.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, chunks: () => [readStored(r, t)] })),
      });
      return path;
    });
  } finally {
    r.close();
  }
}

/** Stored bytes of tensor `t` as its reader holds them. */
function readStored(r: WeightReader, t: TensorInfo): Uint8Array {
  return r.readRaw(t.name).bytes;
}
