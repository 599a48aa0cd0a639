/**
 * Open a model for serving in one call: weights + config (validated),
 * tokenizer, and the single-process engine. The default model is the
 * generated grok-1-tiny, created on first use.
 */
import { resolve } from "node:path";
import type { ComputeOptions } from "./blocks/session.js";
import type { ModelConfig } from "./config.js";
import { Engine } from "./engine/engine.js";
import { DEFAULT_TINY_MODEL_DIR, ensureTinyModel } from "./generate-tiny.js";
import { loadTokenizer } from "./tokenizer/index.js";
import type { Tokenizer, TokenizerSource } from "./tokenizer/types.js";
import { openModel } from "./weights/open.js";

/** An engine with its tokenizer; `close()` frees sessions and files. */
export interface ServingModel {
  readonly config: ModelConfig;
  readonly engine: Engine;
  readonly tokenizer: Tokenizer;
  /** Where the tokenizer came from (plain data: a worker can load it again). */
  readonly tokenizerSource: TokenizerSource;
  close(): Promise<void>;
}

/** The default model path: the generated tiny model (`<repo>/.moe/models/grok-1-tiny`). */
export function defaultModelPath(): string {
  return DEFAULT_TINY_MODEL_DIR;
}

/** Load a model directory or GGUF file; creates the tiny model first when `path` is its default location. */
export async function loadServingModel(path: string, opts: ComputeOptions = {}): Promise<ServingModel> {
  if (resolve(path) === resolve(DEFAULT_TINY_MODEL_DIR)) ensureTinyModel(path);
  const loaded = openModel(path);
  try {
    const tokenizer = await loadTokenizer(loaded.tokenizer);
    const engine = await Engine.create(loaded.config, loaded.weights, opts);
    return {
      config: loaded.config,
      engine,
      tokenizer,
      tokenizerSource: loaded.tokenizer,
      close: async () => {
        await engine.close();
        loaded.close();
      },
    };
  } catch (e) {
    loaded.close();
    throw e;
  }
}
