/** Errors of the load tester: bad options, unreachable gateways, and the kinds a failed request is counted under. */
import { MoeError } from "../common/index.js";

/** Context carried by load-test errors; every field optional. */
export interface LoadTestErrorContext {
  /** The option or report field at fault, e.g. `--prompt-tokens`. */
  field?: string;
  /** The URL involved. */
  url?: string;
  /** The file involved (tokenizer, report). */
  file?: string;
  /** What to do about it. */
  fix?: string;
  cause?: unknown;
}

/** Base class of this folder's errors (see common/errors.ts): `code`, the context fields and the fix. */
export class LoadTestError extends MoeError {
  declare readonly field?: string;
  declare readonly url?: string;
  declare readonly file?: string;
  constructor(code: string, message: string, ctx: LoadTestErrorContext = {}) {
    super(code, message, ctx);
  }
}

/** An option is malformed or out of range; `field` names the flag. */
export class LoadTestOptionError extends LoadTestError {
  constructor(message: string, ctx: LoadTestErrorContext = {}) {
    super("LOADTEST_OPTION", message, ctx);
  }
}

/** A dataset file cannot be read or holds a malformed entry; `file`, `field` and `line` say where. */
export class DatasetError extends LoadTestError {
  /** 1-based line (JSONL) or entry (JSON array) number, when one entry is at fault. */
  readonly line?: number;
  constructor(message: string, ctx: LoadTestErrorContext & { line?: number } = {}) {
    super("LOADTEST_DATASET", message, ctx);
    this.line = ctx.line;
  }
}

/** A warm-up request was refused with a client error (400, 401, 404, ...): every request would be. */
export class WarmupFailedError extends LoadTestError {
  constructor(message: string, ctx: LoadTestErrorContext = {}) {
    super("LOADTEST_WARMUP", message, ctx);
  }
}

/** The gateway cannot be used at all (e.g. `/v1/models` unreachable and no `--model`). */
export class GatewayUnavailableError extends LoadTestError {
  constructor(message: string, ctx: LoadTestErrorContext = {}) {
    super("GATEWAY_UNAVAILABLE", message, ctx);
  }
}

/**
 * Why one request failed. `http_429`/`http_503` are the gateway's back-pressure answers
 * (they carry `Retry-After`); `http_4xx`/`http_5xx` any other error status; `timeout` the
 * per-request `--timeout` fired; `connection` the TCP/HTTP connection failed or was cut;
 * `stream_parse` the response was not a well-formed SSE stream ending in `data: [DONE]`;
 * `stream_error` the stream carried an `{error: ...}` event after a 200.
 */
export type ErrorKind = "http_429" | "http_503" | "http_4xx" | "http_5xx" | "timeout" | "connection" | "stream_parse" | "stream_error";

/** Every {@link ErrorKind}, in report order. */
export const ERROR_KINDS: readonly ErrorKind[] = Object.freeze([
  "http_429",
  "http_503",
  "http_4xx",
  "http_5xx",
  "timeout",
  "connection",
  "stream_parse",
  "stream_error",
]);

/** The error kind of a non-2xx HTTP status. */
export function errorKindForStatus(status: number): ErrorKind {
  if (status === 429) return "http_429";
  if (status === 503) return "http_503";
  return status >= 500 ? "http_5xx" : "http_4xx";
}

/** One failed request, as the client saw it. */
export interface RequestFailure {
  readonly kind: ErrorKind;
  /** HTTP status when there was one. */
  readonly status?: number;
  /** Human-readable detail (the gateway's `error.message` when it sent one). */
  readonly message: string;
  /** `Retry-After` in seconds, when the response carried one. */
  readonly retryAfterS?: number;
}
