/**
 * A host's part of a model (`moe model slice`): a GGUF holding exactly the tensors and expert rows
 * one host of a cluster serves, plus the whole model's metadata, vocabulary and tensor table, so
 * that it opens alone as the model — config, tokenizer and every tensor's name and shape — while
 * reading only what it holds. Stacked expert tensors hold a subset of experts: `[k, out, in]` in
 * the file, with `moe.part.experts.<tensor>` listing the k global expert ids in order.
 */
import { WeightFileError } from "../errors.js";
import type { GgufKV, GgufReader } from "./gguf.js";
import { rawToF32 } from "./tensor-file.js";
import type { RawTensor, TensorInfo, WeightDType, WeightReader } from "./types.js";

/** Metadata keys of a part file. */
export const PART_KEYS = Object.freeze({
  /** The cluster host this part is for (string). */
  host: "moe.part.host",
  /** Name of the whole model (string). */
  model: "moe.part.model",
  /** The whole model's tensor names, dtypes and shapes ("8,48,128"), in order. */
  names: "moe.part.tensor_names",
  dtypes: "moe.part.tensor_dtypes",
  shapes: "moe.part.tensor_shapes",
  /** Prefix of the per-tensor expert lists: `moe.part.experts.<tensor name>` (i32 array). */
  expertsPrefix: "moe.part.experts.",
});

/** Whether a GGUF's metadata marks it as a host's part. */
export function isPartMetadata(md: ReadonlyMap<string, unknown>): boolean {
  return typeof md.get(PART_KEYS.host) === "string";
}

/** One host's part of a model, read as the whole model whose unheld tensors cannot be read. */
export class PartReader implements WeightReader {
  readonly file: string;
  readonly metadata: ReadonlyMap<string, unknown>;
  /** The host this part is for. */
  readonly host: string;
  private readonly table: readonly TensorInfo[];
  private readonly byName: Map<string, TensorInfo>;
  /** Stacked tensors held for some experts: global expert ids in file order. */
  private readonly experts = new Map<string, readonly number[]>();

  /** Wraps `gguf` (taking ownership). @throws WeightFileError when the part metadata is inconsistent */
  constructor(private readonly gguf: GgufReader) {
    this.file = gguf.file;
    this.metadata = gguf.metadata;
    const md = gguf.metadata;
    const fail = (why: string): never => {
      throw new WeightFileError(`${gguf.file}: corrupt model part: ${why}`, { file: gguf.file, fix: "slice the model again (moe model slice)" });
    };
    this.host = String(md.get(PART_KEYS.host));
    const names = md.get(PART_KEYS.names);
    const dtypes = md.get(PART_KEYS.dtypes);
    const shapes = md.get(PART_KEYS.shapes);
    if (!Array.isArray(names) || !Array.isArray(dtypes) || !Array.isArray(shapes) || names.length !== dtypes.length || names.length !== shapes.length) fail("the tensor table is missing or uneven");
    this.table = (names as string[]).map((name, i) => {
      const shape = String((shapes as string[])[i]).split(",").map(Number);
      const held = gguf.find(name);
      const dtype = (dtypes as string[])[i] as WeightDType;
      const list = md.get(`${PART_KEYS.expertsPrefix}${name}`);
      if (list !== undefined) {
        if (!Array.isArray(list) || !held || held.shape[0] !== list.length || held.shape.length !== shape.length) fail(`the expert list of '${name}' does not match its tensor`);
        this.experts.set(name, list as number[]);
      } else if (held && held.shape.join(",") !== shape.join(",")) fail(`'${name}' is [${held.shape.join(", ")}], the table says [${shape.join(", ")}]`);
      const byteLength = held ? (held.byteLength / held.shape[0]!) * shape[0]! : 0;
      return Object.freeze({ name, dtype, shape: Object.freeze(shape), offset: held?.offset ?? -1, byteLength: list !== undefined || !held ? byteLength : held.byteLength });
    });
    this.byName = new Map(this.table.map((t) => [t.name, t]));
  }

  get bytesRead(): number {
    return this.gguf.bytesRead;
  }

  /** GGUF version, KV pairs and invalid strings of the part file. */
  get version(): number {
    return this.gguf.version;
  }
  get kv(): readonly GgufKV[] {
    return this.gguf.kv;
  }
  get invalidUtf8(): readonly string[] {
    return this.gguf.invalidUtf8;
  }

  /** The tensors the part file holds (experts of a stacked tensor as stored: its first axis counts the held ones). */
  storedTensors(): readonly TensorInfo[] {
    return this.gguf.storedTensors();
  }

  /** Size of the part file in bytes. */
  get fileSize(): number {
    return this.gguf.fileSize;
  }

  /** The whole model's tensors (shapes of the whole model; `held` says what this part can read). */
  tensors(): readonly TensorInfo[] {
    return this.table;
  }

  find(name: string): TensorInfo | undefined {
    return this.byName.get(name);
  }

  info(name: string): TensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new WeightFileError(`${this.file}: tensor '${name}' is not a tensor of this model`, { file: this.file, tensor: name });
    return t;
  }

  /** Whether this part holds tensor `name` (and, for a stacked tensor, expert `expert`). */
  holds(name: string, expert?: number): boolean {
    if (!this.gguf.find(name)) return false;
    const list = this.experts.get(name);
    return !list || (expert !== undefined && list.includes(expert));
  }

  /** Global expert ids held of a stacked tensor (all of them when it is held whole; none when absent). */
  heldExperts(name: string): readonly number[] {
    const t = this.info(name);
    if (!this.gguf.find(name)) return [];
    return this.experts.get(name) ?? Array.from({ length: t.shape[0]! }, (_, i) => i);
  }

  readRaw(name: string, expert?: number): RawTensor {
    const t = this.info(name);
    const fix = "slice the model again with the plan this cluster runs (moe model slice --plan), or give this host the whole model";
    if (!this.gguf.find(name))
      throw new WeightFileError(`${this.file}: the part for host '${this.host}' does not hold tensor '${name}'`, { file: this.file, tensor: name, fix });
    const list = this.experts.get(name);
    if (!list) return this.gguf.readRaw(name, expert);
    const local = expert === undefined ? -1 : list.indexOf(expert);
    if (local < 0)
      throw new WeightFileError(
        `${this.file}: the part for host '${this.host}' holds experts [${list.join(", ")}] of '${name}', not ${expert === undefined ? "all " + t.shape[0] : `expert ${expert}`}`,
        { file: this.file, tensor: name, fix },
      );
    return this.gguf.readRaw(name, local);
  }

  readRawRange(name: string, expert: number | undefined, start: number, length: number, into?: Uint8Array): Uint8Array {
    const list = this.experts.get(name);
    if (!this.gguf.find(name) || (list && (expert === undefined || !list.includes(expert)))) this.readRaw(name, expert); // throws the reason
    return this.gguf.readRawRange(name, list ? list.indexOf(expert!) : expert, start, length, into);
  }

  readF32(name: string, expert?: number): Float32Array {
    return rawToF32(this.readRaw(name, expert));
  }

  close(): void {
    this.gguf.close();
  }
}
