/**
 * Errors of the gateway. Every error that reaches a client is a
 * {@link GatewayError}: an HTTP status plus OpenAI's error body
 * `{error: {message, type, param, code}}`.
 */
import { MoeError } from "../common/index.js";
import { TokenizerError } from "../model/index.js";

/** OpenAI's `error.type` values the gateway uses. */
export type OpenAiErrorType = "invalid_request_error" | "authentication_error" | "rate_limit_error" | "server_error" | "not_found_error";

/** Context carried by gateway errors; every field optional. */
export interface GatewayErrorContext {
  /** The request field at fault (`max_tokens`, `messages.0.content`), OpenAI's `param`. */
  param?: string | null;
  /** Seconds a client should wait before retrying (429/503): sent as `Retry-After`. */
  retryAfterS?: number;
  /** What to do about it; appended to the message. */
  fix?: string;
  cause?: unknown;
}

/**
 * Base class (see common/errors.ts): the HTTP status, OpenAI type, `code` (OpenAI's `error.code`:
 * `invalid_json`, `queue_full`, ...) and the offending param.
 */
export class GatewayError extends MoeError {
  readonly status: number;
  readonly type: OpenAiErrorType;
  readonly param: string | null;
  declare readonly retryAfterS?: number;
  constructor(status: number, type: OpenAiErrorType, code: string, message: string, ctx: GatewayErrorContext = {}) {
    super(code, message, ctx);
    this.status = status;
    this.type = type;
    this.param = ctx.param ?? null;
  }

  /** OpenAI's error body. */
  toBody(): { error: { message: string; type: OpenAiErrorType; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400: the request is malformed, has a field of the wrong type, or asks for something unsupported. */
export class InvalidRequestError extends GatewayError {
  constructor(message: string, code = "invalid_request", ctx: GatewayErrorContext = {}) {
    super(400, "invalid_request_error", code, message, ctx);
  }
}

/**
 * A start-up warm-up pass failed (gateway/warmup.ts): the gateway does not start. The message carries the
 * backend's, which names the host or stage that failed.
 */
export class WarmupError extends GatewayError {
  constructor(message: string, ctx: GatewayErrorContext = {}) {
    super(503, "server_error", "warmup_failed", message, ctx);
  }
}

/** 404: unknown URL or model. */
export class NotFoundError extends GatewayError {
  constructor(message: string, code: "unknown_url" | "model_not_found", ctx: GatewayErrorContext = {}) {
    super(404, "invalid_request_error", code, message, ctx);
  }
}

/** 401: `--api-key` is set and the request lacks `Authorization: Bearer <key>`. */
export class AuthenticationError extends GatewayError {
  constructor(message = "Incorrect or missing API key: send 'Authorization: Bearer <key>'") {
    super(401, "invalid_request_error", "invalid_api_key", message);
  }
}

/** 429: the waiting queue is full. */
export class QueueFullError extends GatewayError {
  constructor(maxQueued: number, retryAfterS: number) {
    super(429, "rate_limit_error", "queue_full", `the server is at capacity: ${maxQueued} requests are already waiting; retry after ${retryAfterS} s`, { retryAfterS });
  }
}

/** 503: the gateway is shutting down (or the backend is unavailable). */
export class UnavailableError extends GatewayError {
  constructor(message: string, code = "shutting_down", ctx: GatewayErrorContext = {}) {
    super(503, "server_error", code, message, { retryAfterS: 5, ...ctx });
  }
}

/** 500: a backend step failed for this request's sequence. */
export class BackendError extends GatewayError {
  constructor(message: string, ctx: GatewayErrorContext = {}) {
    super(500, "server_error", "backend_error", message, ctx);
  }
}

/** Any thrown value as a GatewayError (unknown errors become 500s). */
export function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  // a model without a usable vocabulary cannot take text: the client can send token ids instead
  if (err instanceof TokenizerError) return new InvalidRequestError(err.message, "tokenizer_unavailable", { param: "prompt" });
  const msg = err instanceof Error ? err.message : String(err);
  return new GatewayError(500, "server_error", "internal_error", `internal error: ${msg}`, { cause: err });
}
