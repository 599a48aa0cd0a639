/**
 * A small real HTTP server speaking the gateway's OpenAI-compatible streaming contract, with
 * behaviour chosen per request (delays, tokens per chunk, error statuses, hangs, dropped
 * connections, bad JSON) and a prom-client `/metrics` that counts what it served.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { METRIC_NAMES as N } from "../../transport/index.js";

/** What the server does with the n-th request (1-based, in arrival order). */
export type Behaviour =
  | { kind: "stream"; ttftMs: number; itlMs: number; tokensPerChunk?: number; usage?: boolean }
  | { kind: "status"; status: number; retryAfter?: string; body?: string }
  | { kind: "hang" }
  | { kind: "drop" }
  | { kind: "badjson" };

export interface FakeGatewayOptions {
  plan: (n: number, body: CompletionRequestBody) => Behaviour;
  /** Serve /metrics (default true). */
  metrics?: boolean;
  /** Layers × experts for moe_expert_tokens_total; expert 0 gets `hotFactor`× the others' load. */
  layers?: number;
  experts?: number;
  hotFactor?: number;
}

export interface CompletionRequestBody {
  model: string;
  prompt: string | number[];
  max_tokens: number;
  ignore_eos?: boolean;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  seed?: number;
}

export interface FakeGateway {
  url: string;
  /** Request bodies in arrival order. */
  bodies: CompletionRequestBody[];
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startFakeGateway(opts: FakeGatewayOptions): Promise<FakeGateway> {
  const layers = opts.layers ?? 2, experts = opts.experts ?? 4, hot = opts.hotFactor ?? 3;
  const reg = new Registry();
  const queue = new Gauge({ name: N.queueDepth, help: "waiting sequences", registers: [reg] });
  const running = new Gauge({ name: N.running, help: "running sequences", registers: [reg] });
  const generated = new Counter({ name: N.generated, help: "tokens generated", registers: [reg] });
  const expertTokens = new Counter({ name: N.expertTokens, help: "tokens routed", labelNames: ["layer", "expert"], registers: [reg] });
  const busy = new Counter({ name: N.stageBusy, help: "busy seconds", labelNames: ["stage", "host"], registers: [reg] });
  const ttft = new Histogram({ name: N.ttft, help: "ttft", buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [reg] });
  new Counter({ name: N.hostErrors, help: "host errors", labelNames: ["host"], registers: [reg] }).inc({ host: "h0" }, 0);
  // Pre-existing counts, so the load tester must report deltas, not totals.
  generated.inc(1000);
  busy.inc({ stage: "0", host: "h0" }, 5);
  busy.inc({ stage: "1", host: "h1" }, 5);

  const bodies: CompletionRequestBody[] = [];
  let n = 0;
  const onTokens = (k: number): void => {
    generated.inc(k);
    for (let l = 0; l < layers; l++) for (let e = 0; e < experts; e++) expertTokens.inc({ layer: String(l), expert: String(e) }, k * 2 * (e === 0 ? hot : 1));
    busy.inc({ stage: "0", host: "h0" }, k * 0.002);
    busy.inc({ stage: "1", host: "h1" }, k * 0.001);
  };

  async function completions(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = "";
    for await (const c of req) raw += c;
    const body = JSON.parse(raw) as CompletionRequestBody;
    bodies.push(body);
    const b = opts.plan(++n, body);
    if (b.kind === "status") {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (b.retryAfter !== undefined) headers["retry-after"] = b.retryAfter;
      res.writeHead(b.status, headers).end(b.body ?? JSON.stringify({ error: { message: `injected ${b.status}`, type: "test", code: b.status } }));
      return;
    }
    if (b.kind === "hang") return; // never answers; closed by close()
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const send = (o: unknown): boolean => res.write(`data: ${typeof o === "string" ? o : JSON.stringify(o)}\n\n`);
    if (b.kind === "badjson") {
      send("{not json");
      res.end();
      return;
    }
    if (b.kind === "drop") {
      send({ choices: [{ index: 0, text: "x" }] });
      await sleep(20);
      res.socket?.destroy();
      return;
    }
    const total = body.max_tokens;
    const per = b.tokensPerChunk ?? 1;
    queue.inc();
    await sleep(5);
    queue.dec();
    running.inc();
    await sleep(Math.max(0, b.ttftMs - 5));
    ttft.observe(b.ttftMs / 1000);
    for (let sent = 0; sent < total; sent += per) {
      if (sent > 0) await sleep(b.itlMs);
      const k = Math.min(per, total - sent);
      onTokens(k);
      send({ id: "c", object: "text_completion", choices: [{ index: 0, text: " tok".repeat(k), finish_reason: sent + k >= total ? "length" : null }] });
    }
    running.dec();
    const promptTokens = Array.isArray(body.prompt) ? body.prompt.length : body.prompt.split(" ").length;
    if (b.usage !== false) send({ id: "c", object: "text_completion", choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: total, total_tokens: promptTokens + total } });
    send("[DONE]");
    res.end();
  }

  const server: Server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/v1/models") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "list", data: [{ id: "grok-1-tiny", object: "model" }] }));
    } else if (req.method === "GET" && req.url === "/metrics" && opts.metrics !== false) {
      void reg.metrics().then((text) => res.writeHead(200, { "content-type": reg.contentType }).end(text));
    } else if (req.method === "POST" && req.url === "/v1/completions") {
      completions(req, res).catch((err) => res.destroy(err as Error));
    } else {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found", type: "not_found", code: 404 } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
