/**
 * Deterministic random models of the Grok family (the demo/test `grok-1-tiny`
 * and any other small config): `config.json`, weights (GGUF or safetensors)
 * and `tokenizer.model`.
 *
 * Same seed → same bytes on every machine: an integer PRNG (xoshiro128**,
 * seeded per tensor by splitmix32 from the seed and the tensor name) drives
 * uniform distributions scaled to target standard deviations with exact
 * arithmetic only (no Math.log/sin/cos), each value rounded by Math.fround.
 */
import { mkdirSync, readdirSync, statfsSync, writeFileSync } from "node:fs";
import { extname, join, resolve } from "node:path";
import {
  decodeModelProto,
  dtypeBytes,
  f32ToBytes,
  f32ToF16Bytes,
  ModelConfigError,
  modelTensors,
  paramCount,
  quantizeQ8_0,
  type ModelConfig,
  type TensorSpec,
  type WeightDType,
} from "../model/index.js";
import { buildTokenizerModel, MAX_TINY_VOCAB } from "./bpe-train.js";
import { tensorValueChunks } from "./init-values.js";
import { grokGgufMetadata, vocabOf, type GgufFileType } from "./gguf-metadata.js";
import { writeGguf } from "./gguf-writer.js";
import { writeSafetensors } from "./safetensors-writer.js";

/** Weight storage of a generated model. */
export type GenerateDType = "f32" | "f16" | "q8_0";
export type GenerateFormat = "gguf" | "safetensors";

export interface GenerateModelOptions {
  readonly config: ModelConfig;
  /** Directory to write into (created if needed). */
  readonly outDir: string;
  readonly format: GenerateFormat;
  /** f32: every tensor F32. f16: matrices F16. q8_0: matrices Q8_0 (F16 when the input width is not a multiple of 32). Norms and router stay F32. */
  readonly dtype: GenerateDType;
  /** PRNG seed (uint32). */
  readonly seed: number;
  /** A SentencePiece tokenizer.model to use instead of `buildTokenizerModel(vocabSize)` (must have vocabSize pieces). */
  readonly tokenizerModel?: Uint8Array;
  /** Called after each tensor is written (progress). */
  readonly onTensor?: (name: string, index: number, count: number) => void;
}

/** Paths of what {@link generateModel} wrote. */
export interface GeneratedModel {
  readonly dir: string;
  readonly configPath: string;
  readonly weightsPath: string;
  readonly tokenizerPath: string;
}

const isMatrix = (t: TensorSpec) => t.role === "embedding" || t.role === "output" || t.role === "attention" || t.role === "expert";

/** Storage dtype of a tensor under a generate dtype (SPEC.md §9.4 conventions). */
export function storageDType(t: TensorSpec, dtype: GenerateDType): WeightDType {
  if (dtype === "f32" || !isMatrix(t)) return "F32";
  if (dtype === "f16") return "F16";
  return t.shape[t.shape.length - 1]! % 32 === 0 ? "Q8_0" : "F16";
}

/** f32 values stored as `dtype` (F32, F16 or Q8_0 with ggml's reference quantiser). */
export function encodeValues(values: Float32Array, dtype: WeightDType): Uint8Array {
  if (dtype === "F32") return f32ToBytes(values);
  if (dtype === "F16") return f32ToF16Bytes(values);
  if (dtype === "Q8_0") return quantizeQ8_0(values);
  throw new RangeError(`generator cannot write ${dtype}`);
}

/** `general.file_type` of a file written at each dtype. */
export const FILE_TYPES: Readonly<Record<GenerateDType, GgufFileType>> = { f32: 0, f16: 1, q8_0: 7 };

/**
 * Write a random model of `config` into `outDir`: `config.json` (camelCase,
 * pretty), `model.gguf` (grok metadata + embedded vocabulary) or
 * `model.safetensors` (`__metadata__ {format: "pt"}`), and `tokenizer.model`.
 * Tensors are generated and written in chunks of whole rows, so memory stays
 * small whatever the model's size (a Q8_0 Grok-1 layer never exists in f32).
 * @throws ModelConfigError for q8_0 + safetensors, a directory holding other weights, or too little disk
 */
export function generateModel(opts: GenerateModelOptions): GeneratedModel {
  const { config: cfg, format, dtype } = opts;
  const dir = resolve(opts.outDir);
  if (format === "safetensors" && dtype === "q8_0")
    throw new ModelConfigError("safetensors cannot store q8_0 weights", { field: "dtype", fix: "use --format gguf for q8_0, or --dtype f32|f16 with safetensors" });
  if (!["gguf", "safetensors"].includes(format)) throw new ModelConfigError(`unknown weight format '${String(format)}'`, { field: "format", fix: "use gguf or safetensors" });
  if (!["f32", "f16", "q8_0"].includes(dtype)) throw new ModelConfigError(`unknown weight dtype '${String(dtype)}'`, { field: "dtype", fix: "use f32, f16 or q8_0" });
  if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) throw new ModelConfigError(`seed ${opts.seed} must be an integer in [0, 2^32)`, { field: "seed" });
  if (!opts.tokenizerModel && cfg.vocabSize > MAX_TINY_VOCAB)
    throw new ModelConfigError(`${cfg.name}: the project's own tokenizer stops at ${MAX_TINY_VOCAB} pieces; this model has ${cfg.vocabSize}`, {
      field: "vocabSize",
      fix: "pass a SentencePiece tokenizer.model of that size (--tokenizer, e.g. xAI's grok-1 tokenizer.model)",
    });
  const specs = modelTensors(cfg);
  const weightsName = format === "gguf" ? "model.gguf" : "model.safetensors";
  mkdirSync(dir, { recursive: true });
  const others = readdirSync(dir).filter((f) => [".gguf", ".safetensors"].includes(extname(f).toLowerCase()) && f !== weightsName);
  if (others.length)
    throw new ModelConfigError(`${dir}: already holds other weight files (${others.join(", ")})`, { file: dir, fix: "remove them or choose another output directory" });
  const bytes = specs.reduce((a, t) => a + dtypeBytes(storageDType(t, dtype), paramCount(t)), 0);
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  if (bytes > free)
    throw new ModelConfigError(`${dir}: the model needs ${bytes.toLocaleString("en-US")} bytes, the disk has ${free.toLocaleString("en-US")} free`, { file: dir, fix: "free disk space, or write a smaller model (--layers)" });

  const tokBytes = opts.tokenizerModel ?? buildTokenizerModel(cfg.vocabSize);
  const spm = decodeModelProto(tokBytes, join(dir, "tokenizer.model"));
  if (spm.pieces.length !== cfg.vocabSize)
    throw new ModelConfigError(`tokenizer.model has ${spm.pieces.length} pieces but the config's vocabSize is ${cfg.vocabSize}`, { field: "vocabSize" });

  const tensors = specs.map((spec, i) => {
    const st = storageDType(spec, dtype);
    const chunks = function* () {
      for (const v of tensorValueChunks(cfg, opts.seed, spec)) yield encodeValues(v, st);
      opts.onTensor?.(spec.name, i, specs.length);
    };
    return { name: spec.name, dtype: st, shape: spec.shape, chunks };
  });
  const weightsPath = join(dir, weightsName);
  if (format === "gguf") writeGguf(weightsPath, { metadata: grokGgufMetadata(cfg, { fileType: FILE_TYPES[dtype], vocab: vocabOf(spm) }), tensors });
  else writeSafetensors(weightsPath, { metadata: { format: "pt" }, tensors });
  const configPath = join(dir, "config.json");
  writeFileSync(configPath, JSON.stringify(cfg, null, 2) + "\n");
  const tokenizerPath = join(dir, "tokenizer.model");
  writeFileSync(tokenizerPath, tokBytes);
  return { dir, configPath, weightsPath, tokenizerPath };
}
