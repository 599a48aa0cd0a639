/**
 * The streaming client: `POST /v1/completions` or `/v1/chat/completions` with `stream: true`,
 * server-sent events parsed incrementally, arrival times of text-bearing chunks (completion
 * `text`, chat `delta.content`) taken on one monotonic clock. Uses Node's global fetch (undici)
 * with one AbortController per request for the timeout and cancellation. Never throws for
 * request failures: they come back as a {@link RequestFailure} of some kind.
 */
import { performance } from "node:perf_hooks";
import { GatewayUnavailableError, LoadTestOptionError, errorKindForStatus, type RequestFailure } from "./errors.js";
import { SseParser } from "./sse.js";

export { SseParser };

/** The generation endpoints a load test can drive. */
export type Endpoint = "completions" | "chat";

/** URL path of each {@link Endpoint}. */
export const ENDPOINT_PATHS: Readonly<Record<Endpoint, string>> = Object.freeze({ completions: "/v1/completions", chat: "/v1/chat/completions" });

/**
 * Parse `--endpoint`: `completions` or `chat`, or their paths (`/v1/completions`,
 * `/v1/chat/completions`, as vLLM's `--endpoint` takes them).
 */
export function parseEndpoint(spec: string, field = "--endpoint"): Endpoint {
  const s = spec.trim().toLowerCase().replace(/\/+$/, "");
  if (s === "completions" || s === "/v1/completions") return "completions";
  if (s === "chat" || s === "chat/completions" || s === "/v1/chat/completions") return "chat";
  throw new LoadTestOptionError(`${field} must be 'completions' or 'chat', got '${spec}'`, { field, fix: `${field} chat sends /v1/chat/completions` });
}

/** The JSON body of a streaming `/v1/completions` request (the gateway's OpenAI-compatible contract). */
export interface CompletionBody {
  readonly model: string;
  /** Text, or token ids used exactly as given. */
  readonly prompt: string | readonly number[];
  readonly max_tokens: number;
  readonly temperature: number;
  readonly top_p: number;
  readonly seed?: number;
  readonly ignore_eos?: boolean;
}

/** The JSON body of a streaming `/v1/chat/completions` request: one user message. */
export interface ChatBody {
  readonly model: string;
  readonly messages: ReadonlyArray<{ readonly role: "user" | "system" | "assistant"; readonly content: string }>;
  /** The chat name of `max_tokens` (what vLLM's benchmark sends). */
  readonly max_completion_tokens: number;
  readonly temperature: number;
  readonly top_p: number;
  readonly seed?: number;
  readonly ignore_eos?: boolean;
}

/** `usage` of the final chunk. */
export interface Usage {
  readonly prompt_tokens?: number;
  readonly completion_tokens?: number;
  readonly total_tokens?: number;
}

/** What one streamed request produced. Times are `performance.now()` milliseconds. */
export type StreamOutcome =
  | { readonly status: "ok"; readonly sendMs: number; readonly endMs: number; readonly chunkTimesMs: number[]; readonly usage?: Usage; readonly textChars: number }
  | { readonly status: "failed"; readonly sendMs: number; readonly endMs: number; readonly chunkTimesMs: number[]; readonly failure: RequestFailure }
  | { readonly status: "cancelled"; readonly sendMs: number; readonly endMs: number };

/** Per-request options. */
export interface StreamOptions {
  /** Whole-request limit (connect + headers + stream), ms. */
  readonly timeoutMs: number;
  /** Aborts the request; the outcome is then `cancelled`, not an error. */
  readonly signal?: AbortSignal;
  /** Extra request headers (authorization, tenant ids, ...). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Gateway base URL without trailing "/" or "/v1" (both are accepted on input).
 * @throws LoadTestOptionError when it is not an http(s) URL.
 */
export function normalizeBaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new LoadTestOptionError(`--url '${url}' is not a URL`, { field: "--url", fix: "e.g. --url http://127.0.0.1:8000", cause });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new LoadTestOptionError(`--url '${url}' must be http or https`, { field: "--url" });
  return u.toString().replace(/\/+$/, "").replace(/\/v1$/, "");
}

/** `Retry-After` in seconds (delta-seconds or an HTTP date); undefined when absent or unparsable. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const s = Number(value);
  if (Number.isFinite(s)) return Math.max(0, s);
  const d = Date.parse(value);
  return Number.isFinite(d) ? Math.max(0, (d - nowMs) / 1000) : undefined;
}

/** The message of an OpenAI-style `{error: {message}}` body, else the body's start. */
function errorMessage(body: string, status: number): string {
  try {
    const j = JSON.parse(body) as { error?: { message?: unknown } | string };
    if (typeof j.error === "string") return j.error;
    if (j.error && typeof j.error.message === "string") return j.error.message;
  } catch {
    /* not JSON */
  }
  return body.trim().slice(0, 200) || `HTTP ${status}`;
}

function describeFetchError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/** Stream one completion from `{baseUrl}/v1/completions`. */
export function streamCompletion(baseUrl: string, body: CompletionBody, opts: StreamOptions): Promise<StreamOutcome> {
  return streamRequest(baseUrl, "completions", body, opts);
}

/** Stream one chat completion from `{baseUrl}/v1/chat/completions`. */
export function streamChat(baseUrl: string, body: ChatBody, opts: StreamOptions): Promise<StreamOutcome> {
  return streamRequest(baseUrl, "chat", body, opts);
}

/** One chunk's text: a completion choice's `text` or a chat choice's `delta.content`. */
function chunkText(chunk: { choices?: Array<{ text?: unknown; delta?: { content?: unknown } }> }): string {
  const c = chunk.choices?.[0];
  const t = c?.text ?? c?.delta?.content;
  return typeof t === "string" ? t : "";
}

/** Stream one request to `endpoint`; `stream: true` and `stream_options.include_usage` are added to `body`. */
export async function streamRequest(baseUrl: string, endpoint: Endpoint, body: CompletionBody | ChatBody, opts: StreamOptions): Promise<StreamOutcome> {
  const ctrl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctrl.abort();
  }, opts.timeoutMs);
  const onAbort = (): void => ctrl.abort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const chunkTimesMs: number[] = [];
  const sendMs = performance.now();
  let finished = false;
  const fail = (failure: RequestFailure): StreamOutcome => ({ status: "failed", sendMs, endMs: performance.now(), chunkTimesMs, failure });
  try {
    if (opts.signal?.aborted) return { status: "cancelled", sendMs, endMs: sendMs };
    const res = await fetch(`${baseUrl}${ENDPOINT_PATHS[endpoint]}`, {
      method: "POST",
      headers: { ...opts.headers, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal: ctrl.signal,
    });
    if (!res.ok) {
      const text = await res.text();
      return fail({ kind: errorKindForStatus(res.status), status: res.status, message: errorMessage(text, res.status), retryAfterS: parseRetryAfter(res.headers.get("retry-after")) });
    }
    const ctype = res.headers.get("content-type") ?? "";
    if (!ctype.includes("text/event-stream") || !res.body) {
      return fail({ kind: "stream_parse", status: res.status, message: `expected text/event-stream, got '${ctype || "no content-type"}'` });
    }
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = res.body.getReader();
    let usage: Usage | undefined;
    let textChars = 0;
    for (;;) {
      const { done, value } = await reader.read();
      const t = performance.now();
      const events = done ? parser.push(decoder.decode()).concat(parser.end()) : parser.push(decoder.decode(value, { stream: true }));
      for (const data of events) {
        if (data === "[DONE]") {
          finished = true;
          return { status: "ok", sendMs, endMs: t, chunkTimesMs, usage, textChars };
        }
        let chunk: { choices?: Array<{ text?: unknown; delta?: { content?: unknown } }>; usage?: Usage | null; error?: { message?: string } };
        try {
          chunk = JSON.parse(data);
        } catch {
          return fail({ kind: "stream_parse", status: res.status, message: `bad JSON in event: ${data.slice(0, 120)}` });
        }
        if (chunk.error) return fail({ kind: "stream_error", status: res.status, message: String(chunk.error.message ?? JSON.stringify(chunk.error)) });
        const text = chunkText(chunk);
        if (text.length > 0) {
          chunkTimesMs.push(t);
          textChars += text.length;
        }
        if (chunk.usage) usage = chunk.usage;
      }
      if (done) return fail({ kind: "stream_parse", status: res.status, message: "stream ended before data: [DONE]" });
    }
  } catch (err) {
    if (timedOut) return fail({ kind: "timeout", message: `no complete response within ${opts.timeoutMs / 1000} s` });
    if (opts.signal?.aborted) return { status: "cancelled", sendMs, endMs: performance.now() };
    return fail({ kind: "connection", message: describeFetchError(err) });
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
    if (!finished) ctrl.abort();
  }
}

/** One served model as `GET /v1/models` lists it. */
export interface ModelInfo {
  readonly id: string;
  /** Context length in tokens (`max_model_len`, a vLLM field), when the server gives it. */
  readonly maxModelLen?: number;
}

/** How to reach `/v1/models`. */
export interface ModelsOptions {
  readonly timeoutMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Models served by the gateway (`GET /v1/models`).
 * @throws GatewayUnavailableError when it cannot be reached or answers badly (a 401 says to pass the key).
 */
export async function listModels(baseUrl: string, opts: ModelsOptions = {}): Promise<ModelInfo[]> {
  const url = `${baseUrl}/v1/models`;
  const fix = "check --url, that the gateway is running, or pass --model";
  let res: Response;
  try {
    res = await fetch(url, { headers: opts.headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  } catch (cause) {
    throw new GatewayUnavailableError(`cannot reach ${url}: ${describeFetchError(cause)}`, { url, fix, cause });
  }
  const text = await res.text();
  if (res.status === 401 || res.status === 403) {
    throw new GatewayUnavailableError(`${url} answered HTTP ${res.status}: ${errorMessage(text, res.status)}`, { url, fix: "pass the gateway's key with --api-key KEY (or $OPENAI_API_KEY), or the header it wants with --header" });
  }
  if (!res.ok) throw new GatewayUnavailableError(`${url} answered HTTP ${res.status}: ${errorMessage(text, res.status)}`, { url, fix });
  try {
    const j = JSON.parse(text) as { data?: Array<{ id?: unknown; max_model_len?: unknown }> };
    const models = (j.data ?? [])
      .filter((m): m is { id: string; max_model_len?: unknown } => typeof m.id === "string")
      .map((m) => (typeof m.max_model_len === "number" && m.max_model_len > 0 ? { id: m.id, maxModelLen: m.max_model_len } : { id: m.id }));
    if (models.length === 0) throw new Error("no models listed");
    return models;
  } catch (cause) {
    throw new GatewayUnavailableError(`${url} did not list models as {data: [{id}]}`, { url, fix, cause });
  }
}

/**
 * Model ids served by the gateway (`GET /v1/models`).
 * @throws GatewayUnavailableError when it cannot be reached or answers badly.
 */
export async function fetchModels(baseUrl: string, timeoutMs = 10_000, headers?: Readonly<Record<string, string>>): Promise<string[]> {
  return (await listModels(baseUrl, { timeoutMs, headers })).map((m) => m.id);
}
