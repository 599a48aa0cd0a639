/**
 * The HTTP shell (node:http): routing, the optional API key, and the small
 * endpoints (`/v1/models`, `/health`, `/metrics`). Generation lives in
 * handlers.ts.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { AuthenticationError, GatewayError, NotFoundError, asGatewayError } from "./errors.js";
import { handleChat, handleCompletions, type HandlerContext } from "./handlers.js";
import { sendError, sendJson } from "./http.js";

/** What the HTTP shell needs besides the handlers' context. */
export interface ServerContext extends HandlerContext {
  /** Require `Authorization: Bearer <apiKey>` on everything but `/health`. */
  readonly apiKey?: string;
  /** Unix seconds the model was loaded (`/v1/models` `created`). */
  readonly startedAt: number;
}

type Handler = (ctx: ServerContext, req: IncomingMessage, res: ServerResponse) => Promise<number | void>;

interface Route {
  readonly method: "GET" | "POST";
  readonly handler: Handler;
  /** Counted in moe_requests_total. */
  readonly counted?: boolean;
}

const ROUTES: Readonly<Record<string, Route>> = {
  "/v1/completions": { method: "POST", handler: handleCompletions, counted: true },
  "/v1/chat/completions": { method: "POST", handler: handleChat, counted: true },
  "/v1/models": { method: "GET", handler: async (ctx, _req, res) => sendJson(res, 200, { object: "list", data: [modelCard(ctx)] }) },
  "/health": { method: "GET", handler: health },
  "/metrics": { method: "GET", handler: metrics },
};

/** Create (not start) the HTTP server. */
export function createGatewayServer(ctx: ServerContext): Server {
  const keyDigest = ctx.apiKey !== undefined ? digest(ctx.apiKey) : null;
  return createServer({ noDelay: true, keepAlive: true }, (req, res) => {
    void route(ctx, keyDigest, req, res);
  });
}

async function route(ctx: ServerContext, keyDigest: Buffer | null, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0]!.replace(/\/+$/, "") || "/";
  let r: Route | undefined = ROUTES[path];
  if (!r && path.startsWith("/v1/models/")) r = { method: "GET", handler: (c, q, s) => oneModel(c, decodeURIComponent(path.slice("/v1/models/".length)), s) };
  try {
    if (!r) throw new NotFoundError(`Unknown request URL: ${req.method} ${path}`, "unknown_url");
    if (req.method !== r.method) {
      res.setHeader("allow", r.method);
      throw new GatewayError(405, "invalid_request_error", "method_not_allowed", `${req.method} is not allowed on ${path}; use ${r.method}`);
    }
    if (keyDigest && path !== "/health" && !authorized(req, keyDigest)) throw new AuthenticationError();
    const status = await r.handler(ctx, req, res);
    if (r.counted && typeof status === "number") ctx.metrics.request(status);
  } catch (err) {
    const e = asGatewayError(err);
    if (e.status >= 500) ctx.logger.error({ err, path }, "request failed");
    sendError(res, e);
    if (r?.counted) ctx.metrics.request(e.status);
    if (!req.complete) req.resume();
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

function authorized(req: IncomingMessage, keyDigest: Buffer): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
  return m !== null && timingSafeEqual(digest(m[1]!.trim()), keyDigest);
}

function modelCard(ctx: ServerContext): object {
  return { id: ctx.modelName, object: "model", created: ctx.startedAt, owned_by: "moe-serve", max_model_len: ctx.config.contextLength };
}

async function oneModel(ctx: ServerContext, id: string, res: ServerResponse): Promise<void> {
  if (id !== ctx.modelName) throw new NotFoundError(`The model '${id}' does not exist; this server serves '${ctx.modelName}'`, "model_not_found", { param: "model" });
  sendJson(res, 200, modelCard(ctx));
}

async function health(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const hosts = await ctx.metrics.refreshHosts();
  const up = hosts.every((h) => h.up);
  sendJson(res, up ? 200 : 503, {
    status: up ? "ok" : "down",
    model: ctx.modelName,
    queue_depth: ctx.scheduler.queueDepth,
    running_sequences: ctx.scheduler.runningSequences,
    hosts: hosts.map((h) => ({ name: h.name, up: h.up, ...(h.roles ? { roles: h.roles } : {}), ...(h.errors !== undefined ? { errors: h.errors } : {}), ...(h.detail ? { detail: h.detail } : {}) })),
  });
}

async function metrics(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const text = await ctx.metrics.text();
  res.writeHead(200, { "content-type": ctx.metrics.contentType });
  res.end(text);
}
