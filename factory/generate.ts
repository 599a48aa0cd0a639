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
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { extname, join, resolve } from "node:path";
import {
  decodeModelProto,
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
import { fnv1a, Xoshiro128 } from "./random.js";
import { buildTokenizerModel } from "./bpe-train.js";
import { grokGgufMetadata, vocabOf, type GgufFileType } from "./gguf-metadata.js";
import { writeGguf } from "./gguf-writer.js";
import { writeSafetensors, type SafetensorsTensorInput } from "./safetensors-writer.js";

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
}

/** Paths of what {@link generateModel} wrote. */
export interface GeneratedModel {
  readonly dir: string;
  readonly configPath: string;
  readonly weightsPath: string;
  readonly tokenizerPath: string;
}

/**
 * Scales of the random initialisation, chosen so that with the fixed Grok
 * multipliers the residual stream stays O(1), logits have a std of a few
 * units, routing varies between tokens and attention has some sharp heads.
 * See the measured statistics in test/weights/generate.test.ts.
 */
export const TINY_INIT = Object.freeze({
  /** RMS of token_embd rows × embeddingScale (the residual stream at the input). */
  embeddingRms: 0.5,
  /** Target std of the logits (sets the output_norm gain). */
  logitStd: 5,
  /** Gain of the post-attention and post-MoE norms (each adds about this RMS to the residual). */
  postNormGain: 1.5,
  /** Relative jitter of every norm gain (uniform, ± this fraction). */
  gainJitter: 0.1,
  /** Target std of the scaled attention scores q·k·attnScale (before the soft-cap). */
  attnScoreStd: 1.2,
  /** Head 0 of every layer: its query rows are scaled by this (sharper attention). */
  sharpHeadFactor: 2.5,
  /** Target std of the router logits. */
  routerLogitStd: 2.5,
  /** Std of the expert down projection output relative to a unit-variance init. */
  downScale: 0.5,
});

const SQRT3 = Math.sqrt(3);

// ---------------------------------------------------------------- values

/**
 * The f32 values of one tensor of a generated model (row-major), a pure
 * function of (config, seed, tensor name): every dtype and format of the same
 * seed starts from these.
 */
export function generateTensorValues(cfg: ModelConfig, seed: number, spec: TensorSpec): Float32Array {
  const rng = new Xoshiro128(seed >>> 0, fnv1a(spec.name));
  const n = paramCount(spec);
  const out = new Float32Array(n);
  const D = cfg.dModel;
  const I = TINY_INIT;
  const uniform = (std: number) => {
    const a = std * SQRT3;
    for (let i = 0; i < n; i++) out[i] = Math.fround(rng.uniform() * a);
  };
  const gains = (g: number) => {
    for (let i = 0; i < n; i++) out[i] = Math.fround(g * (1 + I.gainJitter * rng.uniform()));
  };
  const base = spec.name.replace(/^blk\.\d+\./, "");
  const embStd = I.embeddingRms / cfg.embeddingScale;
  switch (base) {
    case "token_embd.weight":
    case "output.weight":
      uniform(embStd);
      break;
    case "output_norm.weight":
      // logits = logitScale · E·(rms(h)⊙g): std ≈ logitScale · g · embStd · √D
      gains(I.logitStd / (cfg.logitScale * embStd * Math.sqrt(D)));
      break;
    case "attn_output_norm.weight":
    case "layer_output_norm.weight":
      gains(I.postNormGain);
      break;
    case "attn_norm.weight":
    case "ffn_norm.weight":
      gains(1);
      break;
    case "attn_q.weight":
    case "attn_k.weight": {
      // score std = attnScale · s_q · s_k · √headDim with s = σ·√D per projected value
      const s = Math.sqrt(I.attnScoreStd / (Math.abs(cfg.attnScale) * Math.sqrt(cfg.headDim)));
      uniform(s / Math.sqrt(D));
      if (base === "attn_q.weight") for (let i = 0; i < cfg.headDim * D; i++) out[i] = Math.fround(out[i]! * I.sharpHeadFactor);
      break;
    }
    case "attn_v.weight":
    case "ffn_gate_exps.weight":
    case "ffn_up_exps.weight":
      uniform(1 / Math.sqrt(D));
      break;
    case "attn_output.weight":
      uniform(1 / Math.sqrt(cfg.nHeads * cfg.headDim));
      break;
    case "ffn_gate_inp.weight":
      uniform(I.routerLogitStd / Math.sqrt(D));
      break;
    case "ffn_down_exps.weight":
      uniform(I.downScale / Math.sqrt(cfg.ffnDim));
      break;
    default:
      throw new ModelConfigError(`generator: no initialisation rule for tensor '${spec.name}'`, { tensor: spec.name });
  }
  return out;
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

/** Largest model the generator will build in memory (parameters). */
export const MAX_GENERATED_PARAMS = 1_000_000_000;

/**
 * Write a random model of `config` into `outDir`: `config.json` (camelCase,
 * pretty), `model.gguf` (grok metadata + embedded vocabulary) or
 * `model.safetensors` (`__metadata__ {format: "pt"}`), and `tokenizer.model`.
 * @throws ModelConfigError for q8_0 + safetensors, a too-large config, or a directory holding other weights
 */
export function generateModel(opts: GenerateModelOptions): GeneratedModel {
  const { config: cfg, format, dtype } = opts;
  const dir = resolve(opts.outDir);
  if (format === "safetensors" && dtype === "q8_0")
    throw new ModelConfigError("safetensors cannot store q8_0 weights", { field: "dtype", fix: "use --format gguf for q8_0, or --dtype f32|f16 with safetensors" });
  if (!["gguf", "safetensors"].includes(format)) throw new ModelConfigError(`unknown weight format '${String(format)}'`, { field: "format", fix: "use gguf or safetensors" });
  if (!["f32", "f16", "q8_0"].includes(dtype)) throw new ModelConfigError(`unknown weight dtype '${String(dtype)}'`, { field: "dtype", fix: "use f32, f16 or q8_0" });
  if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) throw new ModelConfigError(`seed ${opts.seed} must be an integer in [0, 2^32)`, { field: "seed" });
  const specs = modelTensors(cfg);
  const total = specs.reduce((a, t) => a + paramCount(t), 0);
  if (total > MAX_GENERATED_PARAMS)
    throw new ModelConfigError(`${cfg.name}: ${total} parameters is too large to generate (limit ${MAX_GENERATED_PARAMS})`, { field: "config", fix: "generate a smaller config" });
  const weightsName = format === "gguf" ? "model.gguf" : "model.safetensors";
  mkdirSync(dir, { recursive: true });
  const others = readdirSync(dir).filter((f) => [".gguf", ".safetensors"].includes(extname(f).toLowerCase()) && f !== weightsName);
  if (others.length)
    throw new ModelConfigError(`${dir}: already holds other weight files (${others.join(", ")})`, { file: dir, fix: "remove them or choose another output directory" });

  const tokBytes = opts.tokenizerModel ?? buildTokenizerModel(cfg.vocabSize);
  const spm = decodeModelProto(tokBytes, join(dir, "tokenizer.model"));
  if (spm.pieces.length !== cfg.vocabSize)
    throw new ModelConfigError(`tokenizer.model has ${spm.pieces.length} pieces but the config's vocabSize is ${cfg.vocabSize}`, { field: "vocabSize" });

  const tensors: SafetensorsTensorInput[] = specs.map((spec) => {
    const st = storageDType(spec, dtype);
    return { name: spec.name, dtype: st, shape: spec.shape, data: encodeValues(generateTensorValues(cfg, opts.seed, spec), st) };
  });
  const weightsPath = join(dir, weightsName);
  if (format === "gguf") {
    const vocab = vocabOf(spm);
    writeGguf(weightsPath, { metadata: grokGgufMetadata(cfg, { fileType: FILE_TYPES[dtype], vocab }), tensors });
  } else {
    writeSafetensors(weightsPath, { metadata: { format: "pt" }, tensors });
  }
  const configPath = join(dir, "config.json");
  writeFileSync(configPath, JSON.stringify(cfg, null, 2) + "\n");
  const tokenizerPath = join(dir, "tokenizer.model");
  writeFileSync(tokenizerPath, tokBytes);
  return { dir, configPath, weightsPath, tokenizerPath };
}
