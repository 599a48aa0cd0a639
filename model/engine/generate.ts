/** Token generation loop over the single-process engine: prefill, then decode until EOS or a limit. */
import { Sampler, type Sampled, type SamplingParams } from "../sampling.js";
import type { Engine } from "./engine.js";

/** Why generation ended (OpenAI's finish_reason). */
export type FinishReason = "stop" | "length";

export interface GenerationOptions {
  /** Most new tokens to produce. */
  readonly maxTokens: number;
  readonly sampling: SamplingParams;
  /** Token ids that end generation (not emitted); default: the model's EOS. */
  readonly stopTokens?: readonly number[];
  /** Receives the logits [V] of the last prompt position. */
  readonly onPromptLogits?: (logits: Float32Array) => void;
}

/** Yields sampled tokens one by one; returns the finish reason. Releases the sequence at the end. */
export async function* generate(engine: Engine, promptIds: readonly number[], opts: GenerationOptions): AsyncGenerator<Sampled, FinishReason> {
  if (promptIds.length === 0) throw new RangeError("the prompt is empty: give at least one token");
  const ctx = engine.config.contextLength;
  if (promptIds.length > ctx) throw new RangeError(`the prompt has ${promptIds.length} tokens, more than the context length ${ctx}`);
  const stops = new Set(opts.stopTokens ?? [engine.config.eosId]);
  const sampler = new Sampler(opts.sampling);
  const seq = engine.newSequence();
  try {
    let logits = await engine.forward([{ seq, tokens: promptIds }]);
    opts.onPromptLogits?.(logits);
    for (let n = 0; n < opts.maxTokens; n++) {
      const s = sampler.sample(logits);
      if (stops.has(s.token)) return "stop";
      yield s;
      if (n + 1 === opts.maxTokens || seq.length + 1 > ctx) break;
      logits = await engine.forward([{ seq, tokens: [s.token] }]);
    }
    return "length";
  } finally {
    engine.release(seq);
  }
}
