/**
 * Open a model as DESIGN.md §8 defines it: a directory (`config.json` + one
 * `*.gguf` or `*.safetensors` + `tokenizer.model`) or a single `.gguf` file
 * (its metadata is the config, its embedded vocabulary the tokenizer). A GGUF
 * may be a `gguf-split` set (opened from any of its files or its directory).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { loadConfigJson, type ModelConfig } from "../config.js";
import { ModelConfigError, WeightFileError } from "../errors.js";
import { PieceType, type TokenizerSource } from "../tokenizer/types.js";
import { GgufReader } from "./gguf.js";
import { openGgufFile, parseGgufSplitName, SplitGgufReader } from "./gguf-split.js";
import { isPartMetadata, PartReader } from "./part.js";
import { PartSetReader } from "./part-set.js";
import { checkTensors, configFromGguf } from "./gguf-config.js";
import { SafetensorsReader } from "./safetensors.js";
import type { WeightReader } from "./types.js";
import { findXaiCheckpoint, XAI_CKPT_DIR, XaiCheckpointReader } from "./xai-checkpoint.js";
import { configFromXai } from "./xai-config.js";

/** A model ready to serve: validated config, open weights, tokenizer source. */
export interface LoadedModel {
  readonly config: ModelConfig;
  /** Open weight file; closed by {@link LoadedModel.close}. */
  readonly weights: WeightReader;
  /** The model directory (absent for a single GGUF file). */
  readonly dir?: string;
  readonly tokenizer: TokenizerSource;
  close(): void;
}

/** Weight file extensions a model directory may hold. */
export const WEIGHT_EXTENSIONS: readonly string[] = [".gguf", ".safetensors"];

/** A GGUF reader: one file, a split set, or a host's part of a model. */
export type AnyGgufReader = GgufReader | SplitGgufReader | PartReader;

/** Whether `r` reads a GGUF (single, split or a part). */
export function isGguf(r: WeightReader): r is AnyGgufReader {
  return r instanceof GgufReader || r instanceof SplitGgufReader || r instanceof PartReader;
}

/** A GGUF file (or split set), read as a host's part when its metadata says it is one. */
function openGgufModelFile(file: string): AnyGgufReader {
  const r = openGgufFile(file);
  if (!(r instanceof GgufReader) || !isPartMetadata(r.metadata)) return r;
  try {
    return new PartReader(r);
  } catch (e) {
    r.close();
    throw e;
  }
}

/** Open one weight file by extension (.gguf — with the rest of its split set, if any; a host's part — or .safetensors). */
export function openWeights(file: string): AnyGgufReader | SafetensorsReader {
  const ext = extname(file).toLowerCase();
  if (ext === ".gguf") return openGgufModelFile(file);
  if (ext === ".safetensors") return SafetensorsReader.open(file);
  throw new WeightFileError(`${file}: unknown weight file extension '${ext}'`, { file, fix: "use a .gguf or .safetensors file, or a model directory" });
}

/**
 * Open a model directory or a single `.gguf` file; validates the config against
 * every tensor's shape.
 * @throws ModelConfigError / WeightFileError naming the path and the fix
 */
export function openModel(path: string): LoadedModel {
  const p = resolve(path);
  if (!existsSync(p))
    throw new ModelConfigError(`${p}: model path does not exist`, { file: p, fix: "pass a model directory or .gguf file; create the demo model with `moe model init --preset grok-1-tiny --out DIR`" });
  if (statSync(p).isDirectory()) {
    const ckpt = findXaiCheckpoint(p);
    return ckpt ? openXai(ckpt) : (openPartSet(p) ?? openDir(p));
  }
  if (extname(p).toLowerCase() === ".safetensors")
    throw new ModelConfigError(`${p}: a .safetensors file carries no model config or tokenizer`, {
      file: p,
      fix: "pass the directory holding it with config.json and tokenizer.model",
    });
  if (extname(p).toLowerCase() !== ".gguf")
    throw new ModelConfigError(`${p}: unknown model file extension '${extname(p)}'`, {
      file: p,
      fix: "pass a .gguf file, or a directory holding config.json, the weights (.gguf or .safetensors) and tokenizer.model",
    });
  const weights = openGgufModelFile(p);
  try {
    const config = configFromGguf(weights);
    checkTensors(weights, config, `${p} (GGUF metadata)`);
    return { config, weights, tokenizer: ggufTokenizer(weights, config), close: () => weights.close() };
  } catch (e) {
    weights.close();
    throw e;
  }
}

/**
 * xAI's checkpoint: `DIR/ckpt-0/` with `DIR/tokenizer.model` and, optionally, `DIR/config.json`
 * (without one, the config comes from the shapes and Grok-1's constants).
 */
function openXai(ckpt: string): LoadedModel {
  const dir = basename(ckpt) === XAI_CKPT_DIR ? dirname(ckpt) : ckpt;
  const weights = XaiCheckpointReader.open(ckpt);
  try {
    const configFile = join(dir, "config.json");
    const hasConfig = existsSync(configFile);
    const config = hasConfig ? loadConfigJson(configFile) : configFromXai(weights, basename(dir));
    checkTensors(weights, config, hasConfig ? configFile : `${ckpt} (checkpoint shapes)`);
    const tok = join(dir, "tokenizer.model");
    const tokenizer: TokenizerSource = existsSync(tok)
      ? { kind: "spm-file", path: tok, addBos: config.addBos }
      : { kind: "none", reason: `${dir} has no tokenizer.model (put xAI's tokenizer.model beside ${XAI_CKPT_DIR}/)`, vocabSize: config.vocabSize, bosId: config.bosId, eosId: config.eosId };
    return { config, weights, dir, tokenizer, close: () => weights.close() };
  } catch (e) {
    weights.close();
    throw e;
  }
}

/**
 * A directory holding several parts of one host (a dynamic cluster's host directory after a re-plan sent
 * it a further part), opened as one model; undefined when the directory is not that.
 * @throws WeightFileError when the parts are of different hosts or models
 */
function openPartSet(dir: string): LoadedModel | undefined {
  const files = readdirSync(dir).filter((f) => extname(f).toLowerCase() === ".gguf").sort();
  if (files.length < 2 || files.some((f) => parseGgufSplitName(f)) || existsSync(join(dir, "config.json"))) return undefined;
  const parts: PartReader[] = [];
  try {
    for (const f of files) {
      const r = openGgufModelFile(join(dir, f));
      if (!(r instanceof PartReader)) {
        r.close();
        for (const q of parts) q.close();
        return undefined;
      }
      parts.push(r);
    }
  } catch (e) {
    for (const q of parts) q.close();
    throw e;
  }
  const weights = new PartSetReader(dir, parts);
  try {
    const config = configFromGguf(weights);
    checkTensors(weights, config, `${parts[0]!.file} (GGUF metadata)`);
    return { config, weights, dir, tokenizer: ggufTokenizer(weights, config), close: () => weights.close() };
  } catch (e) {
    weights.close();
    throw e;
  }
}

/** The files of a model directory (paths absolute; optional ones undefined when absent). */
export interface ModelDirFiles {
  readonly dir: string;
  /** The single *.gguf or *.safetensors file (the first file of a split GGUF set). */
  readonly weights: string;
  readonly config?: string;
  readonly tokenizer?: string;
}

/**
 * Locate the weight file, config.json and tokenizer.model of a model directory.
 * @throws ModelConfigError when the directory has no weight file or several
 */
export function findModelFiles(dir: string): ModelDirFiles {
  const d = resolve(dir);
  const files = readdirSync(d).sort();
  const all = files.filter((f) => WEIGHT_EXTENSIONS.includes(extname(f).toLowerCase()));
  // the files of one gguf-split set count as one weight file: its first
  const splits = all.map((f) => parseGgufSplitName(f));
  const prefixes = new Set(splits.map((s) => s?.prefix));
  const splitSet = all.length > 0 && splits.every((s) => s && s.count > 1) && prefixes.size === 1;
  const weightsFiles = splitSet ? all.filter((_, i) => splits[i]!.index === 0).slice(0, 1) : all;
  if (splitSet && weightsFiles.length === 0)
    throw new ModelConfigError(`${d}: holds split GGUF files (${all.join(", ")}) but not the first split`, { file: d, fix: "download every split, NAME-00001-of-N.gguf first" });
  if (weightsFiles.length === 0)
    throw new ModelConfigError(`${d}: model directory has no weight file (*.gguf or *.safetensors)`, {
      file: d,
      fix: "put the weights in the directory, or create the demo model with `moe model init --preset grok-1-tiny --out DIR`",
    });
  if (weightsFiles.length > 1)
    throw new ModelConfigError(`${d}: model directory has several weight files (${weightsFiles.join(", ")}); expected exactly one`, {
      file: d,
      fix: "keep one weight file per model directory",
    });
  const opt = (f: string) => (existsSync(join(d, f)) ? join(d, f) : undefined);
  return { dir: d, weights: join(d, weightsFiles[0]!), config: opt("config.json"), tokenizer: opt("tokenizer.model") };
}

function openDir(dir: string): LoadedModel {
  const files = findModelFiles(dir);
  // a directory holding only a GGUF (or a split set) is that GGUF: metadata config, embedded vocabulary
  if (!files.config && !files.tokenizer && extname(files.weights).toLowerCase() === ".gguf") return openModel(files.weights);
  if (!files.tokenizer)
    throw new ModelConfigError(`${dir}: model directory has no tokenizer.model`, {
      file: join(dir, "tokenizer.model"),
      fix: "copy the model's SentencePiece tokenizer.model into the directory (or pass a .gguf file, whose embedded vocabulary is used)",
    });
  const weights = openWeights(files.weights);
  try {
    let config: ModelConfig;
    if (files.config) config = loadConfigJson(files.config);
    else if (isGguf(weights)) config = configFromGguf(weights);
    else
      throw new ModelConfigError(`${dir}: model directory has ${basename(files.weights)} but no config.json`, {
        file: join(dir, "config.json"),
        fix: "add config.json (safetensors files carry no model configuration)",
      });
    checkTensors(weights, config, files.config ?? `${files.weights} (GGUF metadata)`);
    return { config, weights, dir, tokenizer: { kind: "spm-file", path: files.tokenizer, addBos: config.addBos }, close: () => weights.close() };
  } catch (e) {
    weights.close();
    throw e;
  }
}

/**
 * The tokenizer of a single GGUF: its embedded vocabulary, or — when there is none usable (missing, not
 * SentencePiece, or not one piece per embedding row) — a token-ids-only tokenizer that names the reason,
 * so that `--prompt-ids` and token-id prompts still work.
 */
function ggufTokenizer(r: WeightReader, cfg: ModelConfig): TokenizerSource {
  try {
    return ggufVocab(r, cfg);
  } catch (e) {
    if (!(e instanceof ModelConfigError)) throw e;
    return { kind: "none", reason: e.message, vocabSize: cfg.vocabSize, bosId: cfg.bosId, eosId: cfg.eosId };
  }
}

/** The tokenizer embedded in a GGUF (`tokenizer.ggml.tokens`, `.scores`, `.token_type`). */
function ggufVocab(r: WeightReader, cfg: ModelConfig): TokenizerSource {
  const file = r.file;
  const tokens = r.metadata.get("tokenizer.ggml.tokens");
  if (isGguf(r) && r.invalidUtf8.includes("tokenizer.ggml.tokens"))
    throw new ModelConfigError(`${file}: tokenizer.ggml.tokens holds pieces that are not valid UTF-8`, { file, field: "tokenizer.ggml.tokens", fix: "re-export the GGUF's vocabulary from its tokenizer.model" });
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "string"))
    throw new ModelConfigError(`${file}: GGUF has no embedded vocabulary (tokenizer.ggml.tokens)`, {
      file,
      field: "tokenizer.ggml.tokens",
      fix: "put the file in a model directory with config.json and tokenizer.model",
    });
  const model = r.metadata.get("tokenizer.ggml.model");
  if (model !== undefined && model !== "llama")
    throw new ModelConfigError(`${file}: tokenizer.ggml.model is '${String(model)}'; only SentencePiece ("llama") vocabularies are supported`, { file, field: "tokenizer.ggml.model" });
  const numbers = (key: string, dflt: number): number[] => {
    const v = r.metadata.get(key);
    if (v === undefined) return new Array<number>(tokens.length).fill(dflt);
    if (!Array.isArray(v) || v.length !== tokens.length || !v.every((x) => typeof x === "number"))
      throw new ModelConfigError(`${file}: ${key} must be ${tokens.length} numbers, one per token`, { file, field: key });
    return v as number[];
  };
  if (tokens.length !== cfg.vocabSize)
    throw new ModelConfigError(`${file}: the embedded vocabulary has ${tokens.length} tokens but the model has ${cfg.vocabSize}`, { file, field: "tokenizer.ggml.tokens" });
  return {
    kind: "gguf-vocab",
    file,
    tokens: tokens as string[],
    scores: numbers("tokenizer.ggml.scores", 0),
    types: numbers("tokenizer.ggml.token_type", PieceType.NORMAL),
    bosId: cfg.bosId,
    eosId: cfg.eosId,
    unkId: cfg.unkId,
    padId: cfg.padId,
    addBos: cfg.addBos,
  };
}
