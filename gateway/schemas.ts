/**
 * Request bodies of `/v1/completions` and `/v1/chat/completions` (zod),
 * normalised into the params the handlers use. Known fields are type-checked
 * (a wrong type is a 400 naming the field); unknown fields are ignored, as
 * OpenAI does. Unsupported features are refused with a 400 that names them.
 */
import { z } from "zod";
import { MAX_TOP_LOGPROBS } from "../model/index.js";
import { InvalidRequestError } from "./errors.js";

/** Most stop strings per request (OpenAI's limit). */
export const MAX_STOP_STRINGS = 4;
/** Most `logit_bias` entries per request. */
export const MAX_LOGIT_BIAS = 1024;

const opt = <T extends z.ZodType>(t: T) => t.nullable().optional();
const tokenId = z.number().int().min(0);

const common = {
  model: opt(z.string()),
  max_tokens: opt(z.number().int().min(1)),
  temperature: opt(z.number().min(0).max(2)),
  top_p: opt(z.number().gt(0).max(1)),
  n: opt(z.number().int()),
  stream: opt(z.boolean()),
  stream_options: opt(z.object({ include_usage: opt(z.boolean()) })),
  seed: opt(z.number().int()),
  stop: opt(z.union([z.string().min(1), z.array(z.string().min(1)).max(MAX_STOP_STRINGS)], { error: `stop must be a non-empty string or an array of at most ${MAX_STOP_STRINGS} non-empty strings` })),
  presence_penalty: opt(z.number().min(-2).max(2)),
  frequency_penalty: opt(z.number().min(-2).max(2)),
  /** vLLM extensions: top-k (-1 or 0 = off), min-p, repetition penalty (1 = off). */
  top_k: opt(z.number().int().min(-1)),
  min_p: opt(z.number().min(0).max(1)),
  repetition_penalty: opt(z.number().gt(0).max(10)),
  logit_bias: opt(z.record(z.string().regex(/^(0|[1-9][0-9]{0,9})$/, { error: "logit_bias keys must be token ids" }), z.number().min(-100).max(100))),
  user: opt(z.string()),
  /** vLLM extension: do not stop at EOS. */
  ignore_eos: opt(z.boolean()),
  /** vLLM extension: add `token_ids` (and `prompt_token_ids`) to each choice. */
  return_token_ids: opt(z.boolean()),
};

const completionSchema = z.object({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()).min(1), z.array(tokenId).min(1), z.array(z.array(tokenId).min(1)).min(1)], {
    error: "prompt must be a string, an array of strings, or an array of token ids (non-negative integers)",
  }),
  logprobs: opt(z.number().int().min(0).max(MAX_TOP_LOGPROBS)),
  echo: opt(z.boolean()),
  best_of: opt(z.number().int()),
  suffix: opt(z.string()),
});

const contentPart = z.object({ type: z.literal("text"), text: z.string() });
const messageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: opt(z.union([z.string(), z.array(contentPart)], { error: "content must be a string or an array of {type: 'text', text} parts" })),
  name: opt(z.string()),
});

const chatSchema = z.object({
  ...common,
  messages: z.array(messageSchema).min(1),
  max_completion_tokens: opt(z.number().int().min(1)),
  logprobs: opt(z.boolean()),
  top_logprobs: opt(z.number().int().min(0).max(MAX_TOP_LOGPROBS)),
  tools: opt(z.array(z.unknown())),
  response_format: opt(z.object({ type: z.string() })),
});

/** Settings shared by both endpoints, after defaults. */
export interface CommonParams {
  /** The model asked for, if any. */
  readonly model?: string;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** Most new tokens; undefined = endpoint default. */
  readonly maxTokens?: number;
  readonly temperature: number;
  readonly topP: number;
  /** 0 = off. */
  readonly topK: number;
  readonly minP: number;
  readonly presencePenalty: number;
  readonly frequencyPenalty: number;
  readonly repetitionPenalty: number;
  /** Token id → bias (ids checked against the vocabulary by the handler). */
  readonly logitBias: ReadonlyMap<number, number>;
  /** uint32 seed. */
  readonly seed?: number;
  readonly stop: readonly string[];
  readonly ignoreEos: boolean;
  readonly returnTokenIds: boolean;
}

/** A `/v1/completions` request. */
export interface CompletionParams extends CommonParams {
  readonly prompt: { readonly kind: "text"; readonly text: string } | { readonly kind: "ids"; readonly ids: readonly number[] };
  /** Alternatives per token wanted (`logprobs` 0–20: the sampled token's logprob and that many top ones), else null. */
  readonly logprobs: number | null;
  readonly echo: boolean;
}

/** A chat message with its content as plain text. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** A `/v1/chat/completions` request. */
export interface ChatParams extends CommonParams {
  readonly messages: readonly ChatMessage[];
  readonly logprobs: boolean;
  readonly topLogprobs: number;
}

/** Parse a completions body; throws {@link InvalidRequestError} naming the field. */
export function parseCompletionRequest(body: unknown): CompletionParams {
  const b = check(completionSchema, body);
  if (b.best_of != null && b.best_of !== 1) throw unsupported("best_of", "best_of must be 1");
  if (b.suffix) throw unsupported("suffix", "suffix is not supported");
  if (b.echo && b.logprobs != null) throw unsupported("echo", "echo with logprobs is not supported (prompt logprobs are not available)");
  const p = b.prompt;
  let prompt: CompletionParams["prompt"];
  if (typeof p === "string") prompt = { kind: "text", text: p };
  else if (p.length > 1 && !isIds(p)) throw unsupported("prompt", `only one prompt per request is supported, got ${p.length}; send one request per prompt`);
  else if (isIds(p)) prompt = { kind: "ids", ids: p };
  else if (typeof p[0] === "string") prompt = { kind: "text", text: p[0] };
  else prompt = { kind: "ids", ids: p[0] as number[] };
  return { ...commonParams(b), maxTokens: b.max_tokens ?? 16, prompt, logprobs: b.logprobs ?? null, echo: b.echo ?? false };
}

/** Parse a chat completions body; throws {@link InvalidRequestError} naming the field. */
export function parseChatRequest(body: unknown): ChatParams {
  const b = check(chatSchema, body);
  if (b.tools && b.tools.length > 0) throw unsupported("tools", "tools are not supported");
  if (b.response_format && b.response_format.type !== "text") throw unsupported("response_format", `response_format '${b.response_format.type}' is not supported; only 'text'`);
  const top = b.top_logprobs ?? 0;
  if (top > 0 && !b.logprobs) throw unsupported("top_logprobs", "top_logprobs needs logprobs: true");
  const messages = b.messages.map((m) => ({ role: m.role, content: typeof m.content === "string" ? m.content : (m.content ?? []).map((c) => c.text).join("") }));
  const maxTokens = b.max_completion_tokens ?? b.max_tokens ?? undefined;
  return { ...commonParams(b), maxTokens, messages, logprobs: b.logprobs ?? false, topLogprobs: top };
}

type CommonBody = z.infer<z.ZodObject<typeof common>>;

function commonParams(b: CommonBody): CommonParams {
  if (b.n != null && b.n !== 1) throw unsupported("n", `n must be 1 (one choice per request), got ${b.n}`);
  const bias = Object.entries(b.logit_bias ?? {});
  if (bias.length > MAX_LOGIT_BIAS) throw new InvalidRequestError(`logit_bias has ${bias.length} entries; at most ${MAX_LOGIT_BIAS} are accepted`, "invalid_value", { param: "logit_bias" });
  const stop = b.stop == null ? [] : typeof b.stop === "string" ? [b.stop] : b.stop;
  return {
    model: b.model ?? undefined,
    stream: b.stream ?? false,
    includeUsage: b.stream_options?.include_usage ?? false,
    temperature: b.temperature ?? 1,
    topP: b.top_p ?? 1,
    topK: Math.max(0, b.top_k ?? 0),
    minP: b.min_p ?? 0,
    presencePenalty: b.presence_penalty ?? 0,
    frequencyPenalty: b.frequency_penalty ?? 0,
    repetitionPenalty: b.repetition_penalty ?? 1,
    logitBias: new Map(bias.map(([k, v]) => [Number(k), v])),
    seed: b.seed == null ? undefined : ((b.seed % 2 ** 32) + 2 ** 32) % 2 ** 32,
    stop,
    ignoreEos: b.ignore_eos ?? false,
    returnTokenIds: b.return_token_ids ?? false,
  };
}

function isIds(p: readonly unknown[]): p is number[] {
  return typeof p[0] === "number";
}

function unsupported(param: string, message: string): InvalidRequestError {
  return new InvalidRequestError(message, "unsupported_parameter", { param });
}

function check<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new InvalidRequestError("the request body must be a JSON object", "invalid_body");
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const param = issue.path.map(String).join(".") || null;
  const missing = issue.code === "invalid_type" && / received undefined$/.test(issue.message);
  const message = missing ? `missing required field '${param}'` : `${param ?? "body"}: ${issue.message}`;
  throw new InvalidRequestError(message, issue.code === "invalid_type" ? "invalid_type" : "invalid_value", { param });
}
