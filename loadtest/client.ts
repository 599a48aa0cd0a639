/**
 * The streaming client: `POST /v1/completions` with `stream: true`, server-sent events parsed
 * incrementally, arrival times of text-bearing chunks taken on one monotonic clock. Uses Node's
 * global fetch (undici) with one AbortController per request for the timeout and cancellation.
 * Never throws for request failures: they come back as a {@link RequestFailure} of some kind.
 */
import { performance } from "node:perf_hooks";
import { GatewayUnavailableError, LoadTestOptionError, errorKindForStatus, type RequestFailure } from "./errors.js";

/** Incremental SSE decoder: feed text, get the `data` payload of every completed event. */
export class SseParser {
  private buf = "";
  private data: string[] = [];

  /** Feed decoded text; returns the data of each event completed by it (multi-line data joined by "\n"). */
  push(text: string): string[] {
    this.buf += text;
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const m = /\r\n|\r|\n/g;
      m.lastIndex = start;
      const hit = m.exec(this.buf);
      // A trailing "\r" may be the first half of "\r\n": wait for the next chunk.
      if (!hit || (hit[0] === "\r" && hit.index === this.buf.length - 1)) break;
      this.line(this.buf.slice(start, hit.index), out);
      start = hit.index + hit[0].length;
    }
    this.buf = this.buf.slice(start);
    return out;
  }

  /** End of stream: the last event, if it was not terminated by a blank line. */
  end(): string[] {
    const out: string[] = [];
    if (this.buf.length > 0) this.line(this.buf.replace(/\r$/, ""), out);
    this.buf = "";
    this.line("", out);
    return out;
  }

  private line(line: string, out: string[]): void {
    if (line === "") {
      if (this.data.length > 0) out.push(this.data.join("\n"));
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
  }
}

/** The JSON body of a streaming completion request (the gateway's OpenAI-compatible contract). */
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
export async function streamCompletion(baseUrl: string, body: CompletionBody, opts: StreamOptions): Promise<StreamOutcome> {
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
    const res = await fetch(`${baseUrl}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
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
        let chunk: { choices?: Array<{ text?: unknown }>; usage?: Usage | null; error?: { message?: string } };
        try {
          chunk = JSON.parse(data);
        } catch {
          return fail({ kind: "stream_parse", status: res.status, message: `bad JSON in event: ${data.slice(0, 120)}` });
        }
        if (chunk.error) return fail({ kind: "stream_error", status: res.status, message: String(chunk.error.message ?? JSON.stringify(chunk.error)) });
        const text = chunk.choices?.[0]?.text;
        if (typeof text === "string" && text.length > 0) {
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

/**
 * Model ids served by the gateway (`GET /v1/models`).
 * @throws GatewayUnavailableError when it cannot be reached or answers badly.
 */
export async function fetchModels(baseUrl: string, timeoutMs = 10_000): Promise<string[]> {
  const url = `${baseUrl}/v1/models`;
  const fix = "check --url, that the gateway is running, or pass --model";
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (cause) {
    throw new GatewayUnavailableError(`cannot reach ${url}: ${describeFetchError(cause)}`, { url, fix, cause });
  }
  const text = await res.text();
  if (!res.ok) throw new GatewayUnavailableError(`${url} answered HTTP ${res.status}: ${errorMessage(text, res.status)}`, { url, fix });
  try {
    const j = JSON.parse(text) as { data?: Array<{ id?: unknown }> };
    const ids = (j.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === "string");
    if (ids.length === 0) throw new Error("no models listed");
    return ids;
  } catch (cause) {
    throw new GatewayUnavailableError(`${url} did not list models as {data: [{id}]}`, { url, fix, cause });
  }
}
