/**
 * The benchmark models, generated on first use under `<repo>/.moe/models/` with the project's own
 * generator: grok-1-tiny and a Grok-shaped model with Grok-1's vocabulary size (d_model 192, 6/2
 * heads of 32, 5 layers, 8 experts top-2, ffn 1024, vocabulary 131072; configs/models/grok-shaped.json),
 * each as f32 and Q8_0 GGUF.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeModelProto, encodeModelProto, loadConfigJson, PieceType, presetConfig, type ModelConfig } from "../model/index.js";
import { buildTokenizerModel, DEFAULT_TINY_MODEL_DIR, generateModel, MAX_TINY_VOCAB } from "../factory/index.js";

/** The repository root: the nearest folder above this module holding package.json. */
function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, "package.json")) && dirname(d) !== d) d = dirname(d);
  return d;
}

const CONFIG_DIR = join(repoRoot(), "configs", "models");
const MODELS_DIR = dirname(DEFAULT_TINY_MODEL_DIR);

/** A tokenizer.model of `vocabSize` pieces: the project's BPE vocabulary, then unused placeholders (speed runs need ids only). */
function paddedTokenizer(vocabSize: number): Uint8Array | undefined {
  if (vocabSize <= 4096) return undefined;
  const base = decodeModelProto(buildTokenizerModel(Math.min(4096, MAX_TINY_VOCAB)), "tokenizer.model");
  const pieces = [...base.pieces];
  for (let i = pieces.length; i < vocabSize; i++) pieces.push({ piece: `<unused${i}>`, score: 0, type: PieceType.UNUSED });
  return encodeModelProto({ pieces, trainerSpec: { ...base.trainerSpec, vocabSize }, normalizerSpec: base.normalizerSpec });
}

/** The config of a bench model by name: a preset or configs/models/<name>.json. */
export function benchConfig(name: string): ModelConfig {
  const file = join(CONFIG_DIR, `${name}.json`);
  return existsSync(file) ? loadConfigJson(file) : presetConfig(name);
}

/** Directory of `name` in `dtype`, generated (seed 0, GGUF) when missing. */
export function ensureBenchModel(name: string, dtype: "f32" | "q8_0"): string {
  const dir = join(MODELS_DIR, `${name}-${dtype}`);
  if (existsSync(join(dir, "model.gguf"))) return dir;
  const config = benchConfig(name);
  const tokenizerModel = paddedTokenizer(config.vocabSize);
  generateModel({ config, outDir: dir, format: "gguf", dtype, seed: 0, ...(tokenizerModel ? { tokenizerModel } : {}) });
  return dir;
}
