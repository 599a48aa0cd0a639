/** Small node:http helpers: JSON bodies in and out, OpenAI error bodies, server-sent events. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { GatewayError, InvalidRequestError } from "./errors.js";

/** Largest accepted request body, bytes. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Read and parse a JSON body; 400 `invalid_json` when it does not parse, 413 when too large. */
export async function readJson(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > maxBytes) throw new GatewayError(413, "invalid_request_error", "body_too_large", `the request body is larger than ${maxBytes} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw new InvalidRequestError("the request body is empty: send a JSON object", "invalid_json");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidRequestError(`We could not parse the JSON body of your request: ${(err as Error).message}`, "invalid_json");
  }
}

/** Send a JSON response (ignored when the client is gone or headers were sent). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const data = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data), ...headers });
  res.end(data);
}

/** Send an OpenAI error body with its status (and `Retry-After` for 429/503). */
export function sendError(res: ServerResponse, err: GatewayError): void {
  const headers: Record<string, string> = {};
  if (err.retryAfterS !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(err.retryAfterS)));
  sendJson(res, err.status, err.toBody(), headers);
}

/** A server-sent-events response: `data: <json>` events, ending with `data: [DONE]`. */
export class SseWriter {
  private ended = false;

  constructor(private readonly res: ServerResponse) {}

  /** Send the 200 status and SSE headers now, so the client sees the stream start. */
  open(): void {
    this.res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    this.res.flushHeaders();
  }

  get closed(): boolean {
    return this.ended || this.res.destroyed;
  }

  send(data: unknown): void {
    if (!this.closed) this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** Write `data: [DONE]` and end the response. */
  done(): void {
    if (this.closed) return;
    this.ended = true;
    this.res.end("data: [DONE]\n\n");
  }
}
