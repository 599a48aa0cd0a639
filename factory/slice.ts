/**
 * `moe model slice --plan plan.json --out DIR`: one GGUF per host of a cluster plan holding exactly
 * the tensors and expert rows that host serves — a stage's attention layers and norms (with the
 * embedding on the first stage, the final norm and unembedding on the last), a router's router
 * matrices, an expert host's (layer, expert) rows, nothing for a gateway-only host — plus the whole
 * model's metadata, vocabulary and tensor table, so that each part opens alone as the model
 * (model/weights/part.ts). Bytes are copied as stored (no re-rounding), expert by expert.
 */
import { dirname, join } from "node:path";
import { mkdirSync } from "node:fs";
import { layerTensorNames, modelTensors, openModel, PART_KEYS, type LoadedModel, type ModelConfig, type TensorInfo } from "../model/index.js";
import { grokGgufMetadata, vocabFromSource, type GgufFileType } from "./gguf-metadata.js";
import { writeGguf, type GgufMetaEntry, type GgufTensorInput } from "./gguf-writer.js";

/** The part of a plan.json that decides who holds what (`moe plan --out` writes it). */
export interface SlicePlan {
  readonly stages: readonly { readonly host: string; readonly layers: readonly [number, number] }[];
  /** Router placement per stage (default: on the stage's host). */
  readonly routers?: readonly { readonly stage: number; readonly host: string }[];
  readonly gateway?: string | null;
  readonly experts: readonly { readonly layer: number; readonly expert: number; readonly hosts: readonly string[] }[];
}

/** What one host holds: whole tensors, and per stacked expert tensor the global expert ids. */
export interface HostPart {
  readonly host: string;
  readonly tensors: ReadonlySet<string>;
  readonly experts: ReadonlyMap<string, readonly number[]>;
}

/**
 * Who holds what under `plan`.
 * @throws RangeError naming the plan field when the plan does not cover the model
 */
export function planParts(cfg: ModelConfig, plan: SlicePlan): HostPart[] {
  const parts = new Map<string, { tensors: Set<string>; experts: Map<string, Set<number>> }>();
  const part = (h: string) => {
    let p = parts.get(h);
    if (!p) parts.set(h, (p = { tensors: new Set(), experts: new Map() }));
    return p;
  };
  let next = 0;
  plan.stages.forEach((s, i) => {
    const [a, b] = s.layers;
    if (a !== next || b <= a || b > cfg.nLayers) throw new RangeError(`plan stages[${i}]: layers [${a}, ${b}) do not continue the pipeline at layer ${next} of ${cfg.nLayers}`);
    next = b;
    const p = part(s.host);
    const routerHost = plan.routers?.find((r) => r.stage === i)?.host ?? s.host;
    for (let l = a; l < b; l++) {
      const n = layerTensorNames(l);
      for (const t of [n.attnNorm, n.q, n.k, n.v, n.o, n.attnOutNorm, n.ffnNorm, n.outNorm]) p.tensors.add(t);
      part(routerHost).tensors.add(n.router).add(n.outNorm);
    }
    if (a === 0) p.tensors.add("token_embd.weight");
    if (b === cfg.nLayers) p.tensors.add("output_norm.weight").add(cfg.tiedEmbeddings ? "token_embd.weight" : "output.weight");
  });
  if (next !== cfg.nLayers) throw new RangeError(`plan stages end at layer ${next}; the model has ${cfg.nLayers}`);
  if (plan.gateway) part(plan.gateway);
  const placed = new Set<string>();
  for (const x of plan.experts) {
    if (!(x.layer >= 0 && x.layer < cfg.nLayers && x.expert >= 0 && x.expert < cfg.nExperts) || x.hosts.length === 0)
      throw new RangeError(`plan experts: (layer ${x.layer}, expert ${x.expert}) on [${x.hosts.join(", ")}] is not an expert of the model`);
    placed.add(`${x.layer}:${x.expert}`);
    const n = layerTensorNames(x.layer);
    for (const h of x.hosts) for (const t of [n.gate, n.up, n.down]) {
      const p = part(h);
      if (!p.experts.has(t)) p.experts.set(t, new Set());
      p.experts.get(t)!.add(x.expert);
    }
  }
  if (placed.size !== cfg.nLayers * cfg.nExperts) throw new RangeError(`plan experts place ${placed.size} of the model's ${cfg.nLayers * cfg.nExperts} (layer, expert) pairs`);
  return [...parts].map(([host, p]) => ({ host, tensors: p.tensors, experts: new Map([...p.experts].map(([t, s]) => [t, [...s].sort((x, y) => x - y)])) }));
}

export interface SliceOptions {
  /** The whole model (any format this project reads). */
  readonly model: string;
  readonly plan: SlicePlan;
  /** Directory for `<host>.gguf` (created). */
  readonly outDir: string;
}

/** One part written. */
export interface SlicedPart {
  readonly host: string;
  readonly file: string;
  /** File size, bytes. */
  readonly bytes: number;
  /** Tensor data held, bytes (without header and padding). */
  readonly tensorBytes: number;
}

/** `general.file_type` of a part: the expert matrices' dtype. */
function fileType(t: TensorInfo | undefined): GgufFileType {
  return t?.dtype === "Q8_0" ? 7 : t?.dtype === "F16" ? 1 : t?.dtype === "BF16" ? 32 : 0;
}

/** Write every host's part of `opts.model` under `opts.plan`. */
export function sliceModel(opts: SliceOptions): SlicedPart[] {
  const m = openModel(opts.model);
  try {
    mkdirSync(opts.outDir, { recursive: true });
    return planParts(m.config, opts.plan).map((p) => writeHostPart(m, p, join(opts.outDir, `${p.host}.gguf`)));
  } finally {
    m.close();
  }
}

/**
 * Write `part` of the open model `m` to `file`: exactly its tensors and expert rows, with the whole model's
 * metadata, vocabulary and tensor table (a dynamic cluster also writes a host the further part a re-plan
 * adds: what the host newly needs, nothing it holds already).
 */
export function writeHostPart(m: LoadedModel, part: HostPart, file: string): SlicedPart {
  const cfg = m.config;
  const r = m.weights;
  const table = modelTensors(cfg).map((s) => r.info(s.name));
  const meta: GgufMetaEntry[] = [
    [PART_KEYS.host, part.host],
    ...grokGgufMetadata(cfg, { fileType: fileType(r.find(layerTensorNames(0).gate)), vocab: vocabFromSource(m.tokenizer) }),
    [PART_KEYS.model, cfg.name],
    [PART_KEYS.names, table.map((t) => t.name), "string"],
    [PART_KEYS.dtypes, table.map((t) => t.dtype), "string"],
    [PART_KEYS.shapes, table.map((t) => t.shape.join(",")), "string"],
  ];
  const tensors: GgufTensorInput[] = [];
  let tensorBytes = 0;
  for (const t of table) {
    const experts = part.experts.get(t.name);
    if (!part.tensors.has(t.name) && !experts?.length) continue;
    const ids = experts ?? (t.shape.length === 3 ? Array.from({ length: t.shape[0]! }, (_, e) => e) : undefined);
    if (experts) meta.push([`${PART_KEYS.expertsPrefix}${t.name}`, [...experts], "i32"]);
    const shape = experts ? [experts.length, ...t.shape.slice(1)] : t.shape;
    tensorBytes += experts ? (t.byteLength / t.shape[0]!) * experts.length : t.byteLength;
    tensors.push({
      name: t.name,
      dtype: t.dtype,
      shape,
      chunks: function* () {
        if (!ids) yield r.readRaw(t.name).bytes;
        else for (const e of ids) yield r.readRaw(t.name, e).bytes;
      },
    });
  }
  mkdirSync(dirname(file), { recursive: true });
  const bytes = writeGguf(file, { metadata: meta, tensors });
  return { host: part.host, file, bytes, tensorBytes };
}

/** What `need` holds that `held` does not (whole tensors, and per stacked tensor the expert ids). */
export function partMinus(need: HostPart, held: readonly HostPart[]): HostPart {
  const tensors = new Set([...need.tensors].filter((t) => !held.some((h) => h.tensors.has(t))));
  const experts = new Map<string, number[]>();
  for (const [t, ids] of need.experts) {
    const rest = ids.filter((e) => !held.some((h) => h.experts.get(t)?.includes(e)));
    if (rest.length) experts.set(t, rest);
  }
  return { host: need.host, tensors, experts };
}

/** Whether a part holds nothing. */
export function partIsEmpty(p: HostPart): boolean {
  return p.tensors.size === 0 && [...p.experts.values()].every((ids) => ids.length === 0);
}

/** Whether `a` holds something of `b`. */
export function partsOverlap(a: HostPart, b: HostPart): boolean {
  return [...a.tensors].some((t) => b.tensors.has(t)) || [...a.experts].some(([t, ids]) => ids.some((e) => b.experts.get(t)?.includes(e)));
}
