/**
 * Prompts → token ids. Text prompts use the tokenizer's BOS default; token-id
 * prompts are used exactly as given. Chat messages go through a plain chat
 * template (the base model has no chat format of its own):
 *
 * ```
 * system: You are terse.
 * user: Hello
 * assistant:
 * ```
 *
 * one `<role>: <content>` line per message, then `assistant:`; the reply is
 * what the model writes after it.
 */
import type { Tokenizer } from "../model/index.js";
import { InvalidRequestError } from "./errors.js";
import type { ChatMessage, CompletionParams } from "./schemas.js";

/** The chat template: `<role>: <content>\n` per message, then `assistant:`. */
export function renderChat(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `${m.role}: ${m.content}\n`).join("") + "assistant:";
}

/** Token ids of a completions prompt; checks ids against the vocabulary. */
export function promptIds(tok: Tokenizer, prompt: CompletionParams["prompt"], vocabSize: number): number[] {
  if (prompt.kind === "text") return tok.encode(prompt.text);
  const bad = prompt.ids.findIndex((id) => id >= vocabSize);
  if (bad >= 0) throw new InvalidRequestError(`prompt token id ${prompt.ids[bad]} at index ${bad} is outside the vocabulary (0..${vocabSize - 1})`, "invalid_value", { param: "prompt" });
  return [...prompt.ids];
}

/** Throws a 400 when the prompt is empty or leaves no room in the context for a generated token. */
export function checkPromptLength(ids: readonly number[], contextLength: number, param: string): void {
  if (ids.length === 0) throw new InvalidRequestError("the prompt is empty: give at least one token", "empty_prompt", { param });
  if (ids.length >= contextLength)
    throw new InvalidRequestError(
      `This model's maximum context length is ${contextLength} tokens. However, your prompt has ${ids.length} tokens, which leaves no room for the completion. Please reduce the length of the prompt.`,
      "context_length_exceeded",
      { param },
    );
}

/** `max_tokens` clipped to the context left after the prompt (prompt + output ≤ contextLength). */
export function clipMaxTokens(maxTokens: number, promptTokens: number, contextLength: number): number {
  return Math.max(1, Math.min(maxTokens, contextLength - promptTokens));
}
