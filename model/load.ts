/**
 * Open a model for serving in one call: weights + config (validated),
 * tokenizer, and the single-process engine. (The generated grok-1-tiny default
 * is made by `factory/`'s `ensureModelPath`, which callers run first.)
 */
import type { ComputeOptions } from "./blocks/session.js";
import type { ModelConfig } from "./config.js";
import { Engine } from "./engine/engine.js";
import { loadTokenizerOrIds } from "./tokenizer/index.js";
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

/** Load a model directory or GGUF file with its tokenizer and engine. */
export async function loadServingModel(path: string, opts: ComputeOptions = {}): Promise<ServingModel> {
  const loaded = openModel(path);
  try {
    const tokenizer = await loadTokenizerOrIds(loaded.tokenizer, loaded.config);
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
