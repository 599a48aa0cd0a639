/**
 * Several parts of one host, read as one: a dynamic cluster sends a host its part for the first plan
 * and, on a re-plan, only a further part holding what it newly needs (control/host-parts.ts); the
 * host's directory then holds `*.gguf` parts of the same host and model, which open together as the
 * model. A tensor (or one expert of a stacked tensor) is read from the first part holding it.
 */
import { WeightFileError } from "../errors.js";
import type { PartReader } from "./part.js";
import { rawToF32 } from "./tensor-file.js";
import type { RawTensor, TensorInfo, WeightReader } from "./types.js";

/** The parts of one host, in order (the first one's metadata and tensor table speak for the set). */
export class PartSetReader implements WeightReader {
  /** The directory holding the parts. */
  readonly file: string;
  readonly metadata: ReadonlyMap<string, unknown>;
  /** The host these parts are for. */
  readonly host: string;

  /**
   * Takes ownership of `parts` (closed on error).
   * @throws WeightFileError when the parts are of different hosts or models
   */
  constructor(
    dir: string,
    readonly parts: readonly PartReader[],
  ) {
    this.file = dir;
    const first = parts[0];
    try {
      if (!first) throw new WeightFileError(`${dir}: no model parts`, { file: dir });
      const table = (r: PartReader) => r.tensors().map((t) => `${t.name}:${t.dtype}:${t.shape.join(",")}`).join(";");
      for (const p of parts.slice(1)) {
        const fix = "remove the parts that do not belong, or let the coordinator send this host its parts again (an empty --dir)";
        if (p.host !== first.host) throw new WeightFileError(`${dir}: ${p.file} is a part for host '${p.host}', ${first.file} one for '${first.host}'`, { file: p.file, fix });
        if (table(p) !== table(first)) throw new WeightFileError(`${dir}: ${p.file} and ${first.file} are parts of different models`, { file: p.file, fix });
      }
    } catch (e) {
      for (const p of parts) p.close();
      throw e;
    }
    this.metadata = first.metadata;
    this.host = first.host;
  }

  get bytesRead(): number {
    return this.parts.reduce((a, p) => a + p.bytesRead, 0);
  }

  /** The whole model's tensors (as {@link PartReader.tensors}). */
  tensors(): readonly TensorInfo[] {
    return this.parts[0]!.tensors();
  }

  find(name: string): TensorInfo | undefined {
    return this.parts[0]!.find(name);
  }

  info(name: string): TensorInfo {
    return this.parts[0]!.info(name);
  }

  /** Whether some part holds tensor `name` (and, for a stacked tensor, expert `expert`). */
  holds(name: string, expert?: number): boolean {
    return this.parts.some((p) => p.holds(name, expert));
  }

  /** Global expert ids held of a stacked tensor, over every part, sorted. */
  heldExperts(name: string): readonly number[] {
    return [...new Set(this.parts.flatMap((p) => p.heldExperts(name)))].sort((a, b) => a - b);
  }

  readRaw(name: string, expert?: number): RawTensor {
    const p = this.parts.find((x) => x.holds(name, expert));
    if (p) return p.readRaw(name, expert);
    this.info(name); // not a tensor of the model at all: that error
    throw new WeightFileError(`${this.file}: no part for host '${this.host}' holds '${name}'${expert === undefined ? "" : ` expert ${expert}`} (${this.parts.length} parts)`, {
      file: this.file,
      tensor: name,
      fix: "let the coordinator send this host its parts again (an empty --dir), or give this host the whole model",
    });
  }

  readF32(name: string, expert?: number): Float32Array {
    return rawToF32(this.readRaw(name, expert));
  }

  close(): void {
    for (const p of this.parts) p.close();
  }
}
