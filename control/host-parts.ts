/**
 * Per-host parts in a dynamic cluster: the coordinator slices, from the plan in force, the part of the
 * model each host needs (factory/slice.ts) and sends each host only that — its stage's layers, its
 * routers' matrices, its experts' rows — never the whole model. On a re-plan a host receives only a
 * further part holding what it newly needs (experts placed on it again, or a stage's layers in a fresh
 * plan); parts of its earlier plans that still hold something it needs stay, the others are dropped.
 * The host's root directory `<model>.parts/` then holds `<host>.v<plan>.gguf` files that open together
 * as its model (model/weights/part-set.ts).
 */
import { basename, join, resolve } from "node:path";
import type { Logger } from "pino";
import { partIsEmpty, partMinus, partsOverlap, planParts, writeHostPart, type HostPart, type SlicePlan } from "../factory/index.js";
import { openModel, type ModelConfig } from "../model/index.js";
import type { WeightServer } from "./weight-transfer.js";
import type { ChecksumCache, WeightFile, WeightManifest } from "./weights.js";

/** One part file written for a host. */
interface HeldPart {
  readonly part: HostPart;
  readonly file: WeightFile;
}

/** Options of {@link HostParts}. */
export interface HostPartsOptions {
  /** The whole model on the coordinator. */
  readonly modelPath: string;
  readonly config: ModelConfig;
  /** Directory for the part files (`<dir>/<model>.parts/<host>.v<plan>.gguf`). */
  readonly dir: string;
  readonly cache: ChecksumCache;
  /** Serves the part files written. */
  readonly server: WeightServer;
  readonly logger: Logger;
}

/** A part written for a plan, for progress and benchmarks. */
export interface WrittenPart {
  readonly host: string;
  readonly file: string;
  /** Part file size, bytes. */
  readonly bytes: number;
  /** Tensor data in it, bytes. */
  readonly tensorBytes: number;
}

/** Which parts each host holds (as far as this coordinator sent them), and the manifests of a plan. */
export class HostParts {
  /** Root directory name on the hosts: `<model>.parts`. */
  readonly root: string;
  private readonly held = new Map<string, HeldPart[]>();

  constructor(private readonly o: HostPartsOptions) {
    this.root = `${basename(resolve(o.modelPath)).replace(/\.gguf$/i, "")}.parts`;
  }

  /**
   * The manifest of every host of `hosts` under `plan` (plan number `version`): the parts it already holds
   * that it still needs, plus, when those lack something, a new part holding just that (written now).
   * @throws RangeError when the plan does not cover the model
   */
  async manifests(plan: SlicePlan, hosts: readonly string[], version: number): Promise<{ manifests: Record<string, WeightManifest>; written: WrittenPart[] }> {
    const need = new Map(planParts(this.o.config, plan).map((p) => [p.host, p]));
    const written: WrittenPart[] = [];
    const manifests: Record<string, WeightManifest> = {};
    let model: ReturnType<typeof openModel> | undefined;
    try {
      for (const h of hosts) {
        const want = need.get(h) ?? { host: h, tensors: new Set<string>(), experts: new Map<string, number[]>() };
        const keep = (this.held.get(h) ?? []).filter((x) => partsOverlap(x.part, want));
        const delta = partMinus(want, keep.map((x) => x.part));
        if (!partIsEmpty(delta) || keep.length === 0) {
          model ??= openModel(this.o.modelPath);
          const name = `${h}.v${version}.gguf`;
          const w = writeHostPart(model, delta, join(this.o.dir, this.root, name));
          const file: WeightFile = { path: name, size: w.bytes, sha256: await this.o.cache.sha256(w.file) };
          this.o.server.add(this.o.dir, { root: this.root, kind: "dir", files: [file] });
          keep.push({ part: delta, file });
          written.push({ host: h, file: w.file, bytes: w.bytes, tensorBytes: w.tensorBytes });
          this.o.logger.info({ host: h, file: name, bytes: w.bytes, tensorBytes: w.tensorBytes, version }, keep.length > 1 ? "wrote a further part for a host" : "wrote a host's part");
        }
        this.held.set(h, keep);
        manifests[h] = { root: this.root, kind: "dir", files: keep.map((x) => x.file), parts: true };
      }
    } finally {
      model?.close();
    }
    return { manifests, written };
  }
}
