/** The one generation loop: prefill in chunks, then decode until a stop token or a limit, over any {@link StepBackend}. */
import { randomInt } from "node:crypto";
import type { SamplingParams } from "../model/index.js";
import type { StepBackend, StepResult } from "./backend.js";

/** Options of {@link generate}. */
export interface GenerateOptions {
  /** Most new tokens. */
  readonly maxTokens: number;
  readonly sampling: SamplingParams;
  /** Token ids that end generation (not emitted). */
  readonly stopTokens: readonly number[];
  readonly contextLength: number;
  /** Prompt tokens per prefill step (default 512): bounds the attention scores of one step. */
  readonly prefillChunk?: number;
  /** Receives the logits [V] of the last prompt position. */
  readonly onPromptLogits?: (logits: Float32Array) => void;
  /** Sequence id (default: a random uint32, since other clients may share the backend). */
  readonly seq?: number;
}

/** Why generation ended (OpenAI's finish_reason). */
export type FinishReason = "stop" | "length";

/**
 * Yield sampled tokens one by one; returns the finish reason. Releases the sequence at the end.
 * @throws RangeError for an empty prompt or one longer than the context
 */
export async function* generate(backend: StepBackend, promptIds: readonly number[], o: GenerateOptions): AsyncGenerator<StepResult, FinishReason> {
  if (promptIds.length === 0) throw new RangeError("the prompt is empty: give at least one token");
  if (promptIds.length > o.contextLength) throw new RangeError(`the prompt has ${promptIds.length} tokens, more than the context length ${o.contextLength}`);
  const chunk = o.prefillChunk ?? 512;
  if (!(Number.isInteger(chunk) && chunk >= 1)) throw new RangeError(`prefillChunk must be an integer ≥ 1, got ${chunk}`);
  const seq = o.seq ?? randomInt(1, 2 ** 32 - 1);
  const stops = new Set(o.stopTokens);
  try {
    let r: StepResult | undefined;
    for (let pos = 0; pos < promptIds.length; pos += chunk) {
      const tokens = promptIds.slice(pos, pos + chunk);
      const last = pos + chunk >= promptIds.length;
      [r] = await backend.step([{ seq, pos, tokens, sampling: o.sampling, prompt: true, sample: last, wantLogits: last && o.onPromptLogits !== undefined }]);
    }
    if (r!.logits) o.onPromptLogits?.(r!.logits);
    let pos = promptIds.length;
    for (let n = 0; n < o.maxTokens; n++) {
      if (stops.has(r!.token)) return "stop";
      yield r!;
      if (n + 1 === o.maxTokens || pos + 1 > o.contextLength) break;
      [r] = await backend.step([{ seq, pos, tokens: [r!.token], sampling: o.sampling }]);
      pos++;
    }
    return "length";
  } finally {
    await backend.release([seq]).catch(() => undefined);
  }
}
