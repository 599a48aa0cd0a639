/**
 * Split GGUFs in llama.cpp's `gguf-split` layout: files `NAME-00001-of-00003.gguf` …, each a whole
 * GGUF holding some of the tensors; the first holds every metadata pair, and every split carries
 * `split.no` (u16, 0-based), `split.count` (u16) and `split.tensors.count` (i32, all splits
 * together). A set opens from any of its files (or the directory holding it) as one reader.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { WeightFileError } from "../errors.js";
import { GgufReader, splitFusedQkv, type GgufKV } from "./gguf.js";
import { tensorsByName } from "./tensor-file.js";
import type { RawTensor, TensorInfo, WeightReader } from "./types.js";

/** The split metadata keys (llama.cpp `LLM_KV_SPLIT_*`). */
export const GGUF_SPLIT_KEYS = Object.freeze({ no: "split.no", count: "split.count", tensors: "split.tensors.count" });

/** `PREFIX-0000i-of-0000n.gguf` for 0-based split `index` of `count`. */
export function ggufSplitName(prefix: string, index: number, count: number): string {
  const p = (n: number) => String(n).padStart(5, "0");
  return `${prefix}-${p(index + 1)}-of-${p(count)}.gguf`;
}

/** The prefix, 0-based index and count of a split file name, or undefined for another name. */
export function parseGgufSplitName(file: string): { prefix: string; index: number; count: number } | undefined {
  const m = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i.exec(file);
  if (!m) return undefined;
  const index = Number(m[2]) - 1;
  const count = Number(m[3]);
  return index >= 0 && index < count ? { prefix: m[1]!, index, count } : undefined;
}

/** One file of a split set. */
export interface GgufSplitPart {
  readonly file: string;
  /** 0-based `split.no`. */
  readonly no: number;
  /** Tensors this file holds. */
  readonly tensors: number;
  /** File size in bytes. */
  readonly bytes: number;
}

const num = (r: GgufReader, key: string): number | undefined => {
  const v = r.metadata.get(key);
  return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : undefined;
};

/** A split GGUF set read as one model file: metadata from the first split, tensors from all. */
export class SplitGgufReader implements WeightReader {
  /** The first split. */
  readonly file: string;
  readonly metadata: ReadonlyMap<string, unknown>;
  readonly version: number;
  readonly kv: readonly GgufKV[];
  readonly invalidUtf8: readonly string[];
  readonly splits: readonly GgufSplitPart[];
  private readonly parts: readonly GgufReader[];
  private readonly list: readonly TensorInfo[];
  private readonly byName: Map<string, { info: TensorInfo; part: GgufReader }>;

  /** Takes ownership of `parts` (split order, validated by {@link openGgufFile}). */
  constructor(parts: readonly GgufReader[]) {
    const first = parts[0]!;
    this.parts = parts;
    this.file = first.file;
    this.metadata = first.metadata;
    this.version = first.version;
    this.kv = first.kv;
    this.invalidUtf8 = first.invalidUtf8;
    this.splits = parts.map((p, no) => ({ file: p.file, no, tensors: p.tensorCount, bytes: p.fileSize }));
    const entries: { info: TensorInfo; part: GgufReader }[] = [];
    for (const p of parts) {
      for (const info of p === first ? p.tensors() : p.tensors().slice(0, p.tensorCount)) entries.push({ info, part: p });
      // a fused attn_qkv in a later split: its views need the first split's head counts
      if (p !== first) for (const info of splitFusedQkv(p.tensors(), first.metadata)) entries.push({ info, part: p });
    }
    this.list = entries.map((e) => e.info);
    const byInfo = new Map(entries.map((e) => [e.info, e]));
    this.byName = new Map([...tensorsByName(this.list)].map(([name, info]) => [name, byInfo.get(info)!]));
  }

  get bytesRead(): number {
    return this.parts.reduce((a, p) => a + p.bytesRead, 0);
  }

  /** Total size of the split files in bytes. */
  get fileSize(): number {
    return this.parts.reduce((a, p) => a + p.fileSize, 0);
  }

  tensors(): readonly TensorInfo[] {
    return this.list;
  }

  /** The tensors of every split's header, in file order (without views of a fused attn_qkv). */
  storedTensors(): readonly TensorInfo[] {
    return this.parts.flatMap((p) => p.storedTensors());
  }

  find(name: string): TensorInfo | undefined {
    return this.byName.get(name)?.info;
  }

  info(name: string): TensorInfo {
    const e = this.byName.get(name);
    if (!e)
      throw new WeightFileError(`${this.file}: tensor '${name}' is missing from every split of this GGUF (${this.splits.length} files)`, {
        file: this.file,
        tensor: name,
        fix: "use a weight file converted for this model (see `moe model inspect`)",
      });
    return e.info;
  }

  /** The split file that holds tensor `name`. */
  fileOf(name: string): string {
    this.info(name);
    return this.byName.get(name)!.part.file;
  }

  readRaw(name: string, expert?: number): RawTensor {
    this.info(name);
    const e = this.byName.get(name)!;
    return e.part.readInfo(e.info, expert);
  }

  readRawRange(name: string, expert: number | undefined, start: number, length: number, into?: Uint8Array): Uint8Array {
    this.info(name);
    const e = this.byName.get(name)!;
    return e.part.readInfoRange(e.info, expert, start, length, into);
  }

  readF32(name: string, expert?: number): Float32Array {
    this.info(name);
    const e = this.byName.get(name)!;
    return e.part.readF32Info(e.info, expert);
  }

  close(): void {
    for (const p of this.parts) p.close();
  }
}

/**
 * Open a GGUF file; when it belongs to a split set (`split.count` > 1), open the whole set (from any
 * of its files) and check it: every split present, numbered and counted consistently, every tensor
 * in exactly one split, the tensor total equal to `split.tensors.count`.
 * @throws WeightFileError naming the missing or inconsistent split and the fix
 */
export function openGgufFile(file: string): GgufReader | SplitGgufReader {
  let r = GgufReader.open(file);
  const count = num(r, GGUF_SPLIT_KEYS.count);
  if (count === undefined || count <= 1) return r;
  const opened: GgufReader[] = [];
  try {
    const dir = dirname(r.file);
    const name = parseGgufSplitName(basename(r.file));
    const no = num(r, GGUF_SPLIT_KEYS.no) ?? 0;
    if (!name || name.count !== count || name.index !== no)
      throw new WeightFileError(`${r.file}: is split ${no + 1} of ${count} (split.no ${no}), but its name does not say so; the other splits cannot be found`, {
        file: r.file,
        field: GGUF_SPLIT_KEYS.no,
        fix: `keep gguf-split's names, NAME-${String(no + 1).padStart(5, "0")}-of-${String(count).padStart(5, "0")}.gguf, for every split in one directory`,
      });
    if (no !== 0) {
      const firstPath = join(dir, ggufSplitName(name.prefix, 0, count));
      if (!existsSync(firstPath)) throw new WeightFileError(`${firstPath}: split 1 of ${count} of ${basename(r.file)} is missing (it holds the metadata)`, { file: firstPath, fix: `put all ${count} split files in ${dir}` });
      r.close();
      r = GgufReader.open(firstPath);
    }
    opened.push(r);
    for (let i = 1; i < count; i++) {
      const path = join(dir, ggufSplitName(name.prefix, i, count));
      if (!existsSync(path))
        throw new WeightFileError(`${path}: split ${i + 1} of ${count} of ${basename(opened[0]!.file)} is missing`, { file: path, fix: `put all ${count} split files in ${dir}` });
      opened.push(GgufReader.open(path));
    }
    checkSplits(opened, count);
    return new SplitGgufReader(opened);
  } catch (e) {
    for (const p of opened) p.close();
    if (!opened.includes(r)) r.close();
    throw e;
  }
}

function checkSplits(parts: readonly GgufReader[], count: number): void {
  const first = parts[0]!;
  const total = num(first, GGUF_SPLIT_KEYS.tensors);
  const seen = new Map<string, string>();
  let tensors = 0;
  parts.forEach((p, i) => {
    const bad = (field: string, what: string) =>
      new WeightFileError(`${p.file}: inconsistent split set: ${what}`, { file: p.file, field, fix: "the files come from different splits of different models; download the set again" });
    if (num(p, GGUF_SPLIT_KEYS.no) !== i) throw bad(GGUF_SPLIT_KEYS.no, `split.no is ${String(p.metadata.get(GGUF_SPLIT_KEYS.no))}, expected ${i}`);
    if (num(p, GGUF_SPLIT_KEYS.count) !== count) throw bad(GGUF_SPLIT_KEYS.count, `split.count is ${String(p.metadata.get(GGUF_SPLIT_KEYS.count))}, the first split says ${count}`);
    if (num(p, GGUF_SPLIT_KEYS.tensors) !== total)
      throw bad(GGUF_SPLIT_KEYS.tensors, `split.tensors.count is ${String(p.metadata.get(GGUF_SPLIT_KEYS.tensors))}, the first split says ${String(total)}`);
    for (const t of p.tensors().slice(0, p.tensorCount)) {
      const other = seen.get(t.name);
      if (other) throw bad("tensors", `tensor '${t.name}' is in both ${basename(other)} and ${basename(p.file)}`);
      seen.set(t.name, p.file);
    }
    tensors += p.tensorCount;
  });
  if (total !== undefined && tensors !== total)
    throw new WeightFileError(`${first.file}: inconsistent split set: the ${count} splits hold ${tensors} tensors, split.tensors.count says ${total}`, {
      file: first.file,
      field: GGUF_SPLIT_KEYS.tensors,
      fix: "a split file is truncated or from another set; download the set again",
    });
}
