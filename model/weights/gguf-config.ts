/**
 * The model configuration read from GGUF metadata with llama.cpp's `grok` keys
 * (SPEC.md §9.2), and the check that a weight file holds exactly the tensors
 * a configuration needs.
 */
import { basename, extname } from "node:path";
import { GROK_DEFAULTS, parseModelConfig, type ModelConfig } from "../config.js";
import { modelTensors } from "../accounting.js";
import { ModelConfigError, WeightFileError } from "../errors.js";
import type { WeightReader } from "./types.js";

/** Defaults of llama.cpp's grok loader for keys a GGUF may omit. */
const SPECIAL_DEFAULTS = { bosId: 1, eosId: 2, unkId: 3, padId: 0 } as const;

/**
 * The shortest decimal that rounds to the same f32 as `v` (so a stored f32
 * 1e-5 reads back as 1e-5, not 9.99999974737875e-6). Values that are not
 * exactly f32 are returned unchanged.
 */
export function f32Decimal(v: number): number {
  if (!Number.isFinite(v) || Math.fround(v) !== v) return v;
  for (let p = 1; p <= 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

/** A float constant: the exact default literal when the file stores its f32 rounding. */
function constant(v: number, dflt: number): number {
  return Math.fround(v) === Math.fround(dflt) ? dflt : f32Decimal(v);
}

/** `id` when it names a token of a `vocab`-sized vocabulary, else undefined. */
function inVocab(id: number, vocab: number | undefined): number | undefined {
  return Number.isInteger(id) && id >= 0 && (vocab === undefined || id < vocab) ? id : undefined;
}

/** Read the model configuration from a GGUF's metadata (`general.architecture` must be `grok`). */
export function configFromGguf(reader: WeightReader): ModelConfig {
  const file = reader.file;
  const md = reader.metadata;
  const arch = md.get("general.architecture");
  if (arch !== "grok")
    throw new ModelConfigError(`${file}: general.architecture is ${JSON.stringify(arch)}, expected "grok"`, {
      file,
      field: "general.architecture",
      fix: "this project serves Grok-family models only",
    });
  const num = (key: string, dflt?: number): number => {
    const v = md.get(key);
    if (v === undefined) {
      if (dflt !== undefined) return dflt;
      throw new ModelConfigError(`${file}: GGUF metadata key '${key}' is missing`, { file, field: key, fix: "re-convert the model with llama.cpp's grok converter" });
    }
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isFinite(n)) throw new ModelConfigError(`${file}: GGUF metadata key '${key}' must be a number, got ${JSON.stringify(String(v))}`, { file, field: key });
    return n;
  };
  const opt = (key: string): number | undefined => (md.has(key) ? num(key) : undefined);
  const a = (k: string) => `grok.${k}`;
  const dModel = num(a("embedding_length"));
  const nHeads = num(a("attention.head_count"));
  const headDim = opt(a("attention.key_length")) ?? dModel / nHeads;
  const valueLen = opt(a("attention.value_length"));
  if (valueLen !== undefined && valueLen !== headDim)
    throw new ModelConfigError(`${file}: grok.attention.value_length ${valueLen} differs from key_length ${headDim}; not supported`, { file, field: a("attention.value_length") });
  const ropeDims = opt(a("rope.dimension_count"));
  if (ropeDims !== undefined && ropeDims !== headDim)
    throw new ModelConfigError(`${file}: grok.rope.dimension_count ${ropeDims} differs from the head size ${headDim}; partial RoPE is not supported`, {
      file,
      field: a("rope.dimension_count"),
    });
  const tokens = md.get("tokenizer.ggml.tokens");
  // the embedding's rows are the model's vocabulary; a converter's token list may be shorter (padded tables)
  const vocabSize = opt(a("vocab_size")) ?? reader.find("token_embd.weight")?.shape[0] ?? (Array.isArray(tokens) ? tokens.length : undefined);
  const addBos = md.get("tokenizer.ggml.add_bos_token");
  const name = md.get("general.name");
  const raw = {
    name: typeof name === "string" && name ? name : basename(file, extname(file)),
    vocabSize,
    dModel,
    nLayers: num(a("block_count")),
    nHeads,
    nKvHeads: num(a("attention.head_count_kv"), nHeads),
    headDim,
    nExperts: num(a("expert_count")),
    nExpertsUsed: num(a("expert_used_count")),
    ffnDim: opt(a("expert_feed_forward_length")) ?? num(a("feed_forward_length")),
    contextLength: num(a("context_length")),
    rmsEps: f32Decimal(num(a("attention.layer_norm_rms_epsilon"))),
    ropeBase: f32Decimal(num(a("rope.freq_base"), GROK_DEFAULTS.ropeBase)),
    embeddingScale: constant(num(a("embedding_scale"), GROK_DEFAULTS.embeddingScale), GROK_DEFAULTS.embeddingScale),
    logitScale: constant(num(a("logit_scale"), GROK_DEFAULTS.logitScale), GROK_DEFAULTS.logitScale),
    attnScale: constant(num(a("attention.output_scale"), GROK_DEFAULTS.attnScale), GROK_DEFAULTS.attnScale),
    attnSoftcap: constant(num(a("attn_logit_softcapping"), GROK_DEFAULTS.attnSoftcap), GROK_DEFAULTS.attnSoftcap),
    bosId: num("tokenizer.ggml.bos_token_id", SPECIAL_DEFAULTS.bosId),
    eosId: num("tokenizer.ggml.eos_token_id", SPECIAL_DEFAULTS.eosId),
    unkId: num("tokenizer.ggml.unknown_token_id", SPECIAL_DEFAULTS.unkId),
    // padding is never used by the engine; converters sometimes store -1 / 2^32-1 for "none"
    padId: inVocab(num("tokenizer.ggml.padding_token_id", SPECIAL_DEFAULTS.padId), vocabSize) ?? SPECIAL_DEFAULTS.padId,
    addBos: typeof addBos === "boolean" ? addBos : true,
    tiedEmbeddings: reader.find("output.weight") === undefined,
  };
  return parseModelConfig(raw, `${file} (GGUF metadata)`);
}

/**
 * Check that `reader` holds every tensor of `cfg` with exactly the expected
 * row-major shape (and no `output.weight` when the config says tied).
 * @param configSource what the config came from, for messages (e.g. a config.json path)
 * @throws WeightFileError "mismatched weight file" naming file, tensor, expected and found shape
 */
export function checkTensors(reader: WeightReader, cfg: ModelConfig, configSource = "the model config"): void {
  const file = reader.file;
  const fix = `use the weight file that belongs to ${configSource}, or fix ${configSource}`;
  for (const spec of modelTensors(cfg)) {
    const t = reader.find(spec.name);
    if (!t)
      throw new WeightFileError(`${file}: mismatched weight file: tensor '${spec.name}' is missing (expected shape [${spec.shape.join(", ")}] from ${configSource})`, {
        file,
        tensor: spec.name,
        fix,
      });
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i]))
      throw new WeightFileError(
        `${file}: mismatched weight file: tensor '${spec.name}' has shape [${t.shape.join(", ")}], expected [${spec.shape.join(", ")}] from ${configSource}`,
        { file, tensor: spec.name, fix },
      );
  }
  if (cfg.tiedEmbeddings && reader.find("output.weight"))
    throw new WeightFileError(`${file}: mismatched weight file: it has 'output.weight' but ${configSource} says the embeddings are tied`, {
      file,
      tensor: "output.weight",
      fix: `set tiedEmbeddings to false in ${configSource}`,
    });
}
