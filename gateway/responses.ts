/**
 * OpenAI response shapes (data, no I/O): `text_completion` and
 * `chat.completion` bodies and their streaming chunks.
 */
import { randomUUID } from "node:crypto";
import type { Tokenizer } from "../model/index.js";
import { tokenText, type TokenSpan } from "./output.js";
import type { FinishReason } from "./scheduler.js";

/** OpenAI's `usage`. */
export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export function usage(promptTokens: number, completionTokens: number): Usage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** What a choice carries: text, the tokens behind it, and (at the end) why it finished. */
export interface ChoiceDelta {
  readonly text: string;
  readonly span: TokenSpan;
  readonly finishReason: FinishReason | null;
}

/** Per-request options of the shapes. */
export interface ShapeOptions {
  readonly tokenizer: Tokenizer;
  readonly model: string;
  readonly promptIds: readonly number[];
  /** Alternatives per token (completions `logprobs`, chat `top_logprobs`, 0–20); null = no logprobs. */
  readonly logprobs: number | null;
  readonly returnTokenIds: boolean;
  readonly includeUsage: boolean;
}

/** Builds the bodies of one endpoint for one request. */
export interface ResponseShape {
  /** Chunk sent before any token (chat: the assistant role), or null. */
  opening(): object | null;
  chunk(d: ChoiceDelta): object;
  /** Final chunk with `choices: []` and usage (stream_options.include_usage). */
  usageChunk(u: Usage): object;
  /** Whole non-streaming response. */
  full(d: ChoiceDelta, u: Usage): object;
}

const created = (): number => Math.floor(Date.now() / 1000);
const newId = (prefix: string): string => `${prefix}-${randomUUID().replaceAll("-", "")}`;

/** `/v1/completions` shapes; `echo` text is prepended to the first chunk / the text. */
export function completionShape(o: ShapeOptions, echo: string): ResponseShape {
  const id = newId("cmpl");
  const time = created();
  let first = true;
  const head = { id, object: "text_completion", created: time, model: o.model };
  const logprobs = (span: TokenSpan): object | null => {
    if (o.logprobs === null) return null;
    const texts = span.ids.map((t) => tokenText(o.tokenizer, t).text);
    // OpenAI's legacy shape: token text → logprob (alternatives whose text repeats one already listed are merged, first wins)
    const alternatives = (i: number): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const a of span.top[i] ?? []) {
        const t = tokenText(o.tokenizer, a.token).text;
        if (!(t in out)) out[t] = a.logprob;
      }
      return out;
    };
    return {
      tokens: texts,
      token_logprobs: span.logprobs,
      top_logprobs: o.logprobs > 0 ? texts.map((_, i) => alternatives(i)) : null,
      text_offset: span.offsets.map((x) => x + echo.length),
    };
  };
  const choice = (d: ChoiceDelta, full: boolean): object => {
    const text = first ? echo + d.text : d.text;
    const c: Record<string, unknown> = { index: 0, text, logprobs: logprobs(d.span), finish_reason: d.finishReason };
    if (o.returnTokenIds) {
      if (first || full) c.prompt_token_ids = o.promptIds;
      c.token_ids = d.span.ids;
    }
    first = false;
    return c;
  };
  return {
    opening: () => null,
    chunk: (d) => ({ ...head, choices: [choice(d, false)], ...(o.includeUsage ? { usage: null } : {}) }),
    usageChunk: (u) => ({ ...head, choices: [], usage: u }),
    full: (d, u) => ({ ...head, choices: [choice(d, true)], usage: u }),
  };
}

/** `/v1/chat/completions` shapes (`chat.completion` / `chat.completion.chunk` with `delta`). */
export function chatShape(o: ShapeOptions): ResponseShape {
  const id = newId("chatcmpl");
  const time = created();
  const head = (object: string) => ({ id, object, created: time, model: o.model, system_fingerprint: null });
  const logprobs = (span: TokenSpan): object | null => {
    if (o.logprobs === null) return null;
    return {
      content: span.ids.map((t, i) => {
        const tt = tokenText(o.tokenizer, t);
        const top = (span.top[i] ?? []).map((a) => {
          const at = tokenText(o.tokenizer, a.token);
          return { token: at.text, logprob: a.logprob, bytes: at.bytes };
        });
        return { token: tt.text, logprob: span.logprobs[i]!, bytes: tt.bytes, top_logprobs: top };
      }),
      refusal: null,
    };
  };
  const ids = (span: TokenSpan, full: boolean): object => (o.returnTokenIds ? { token_ids: span.ids, ...(full ? { prompt_token_ids: o.promptIds } : {}) } : {});
  const usageNull = o.includeUsage ? { usage: null } : {};
  return {
    opening: () => ({
      ...head("chat.completion.chunk"),
      choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null, ...(o.returnTokenIds ? { prompt_token_ids: o.promptIds } : {}) }],
      ...usageNull,
    }),
    chunk: (d) => ({
      ...head("chat.completion.chunk"),
      choices: [{ index: 0, delta: d.text.length > 0 || d.finishReason === null ? { content: d.text } : {}, logprobs: logprobs(d.span), finish_reason: d.finishReason, ...ids(d.span, false) }],
      ...usageNull,
    }),
    usageChunk: (u) => ({ ...head("chat.completion.chunk"), choices: [], usage: u }),
    full: (d, u) => ({
      ...head("chat.completion"),
      choices: [{ index: 0, message: { role: "assistant", content: d.text, refusal: null }, logprobs: logprobs(d.span), finish_reason: d.finishReason, ...ids(d.span, true) }],
      usage: u,
    }),
  };
}
