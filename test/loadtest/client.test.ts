import { afterEach, describe, expect, it } from "vitest";
import { normalizeBaseUrl, parseRetryAfter, SseParser, streamCompletion, type CompletionBody } from "../../loadtest/index.js";
import { startFakeGateway, type FakeGateway } from "./fake-gateway.js";

describe("SSE parser", () => {
  it("assembles events split anywhere, with \\n, \\r\\n and multi-line data; ignores comments and other fields", () => {
    const p = new SseParser();
    const text = 'data: {"a":1}\n\n: keep-alive\r\n\r\nevent: x\r\ndata: line1\r\ndata: line2\r\n\r\ndata:[DONE]\n\n';
    const out: string[] = [];
    for (let i = 0; i < text.length; i += 3) out.push(...p.push(text.slice(i, i + 3)));
    out.push(...p.end());
    expect(out).toEqual(['{"a":1}', "line1\nline2", "[DONE]"]);
  });

  it("flushes an unterminated last event at end of stream", () => {
    const p = new SseParser();
    expect(p.push("data: x")).toEqual([]);
    expect(p.end()).toEqual(["x"]);
  });
});

describe("helpers", () => {
  it("parses Retry-After as seconds or an HTTP date", () => {
    expect(parseRetryAfter("3")).toBe(3);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6);
    expect(parseRetryAfter("soon")).toBeUndefined();
  });
  it("normalizes base URLs", () => {
    expect(normalizeBaseUrl("http://h:8000/")).toBe("http://h:8000");
    expect(normalizeBaseUrl("http://h:8000/v1/")).toBe("http://h:8000");
    expect(() => normalizeBaseUrl("h:8000")).toThrow(/--url/);
  });
});

describe("streaming client against a real HTTP server", () => {
  let gw: FakeGateway | undefined;
  afterEach(async () => gw?.close());
  const body: CompletionBody = { model: "m", prompt: [300, 301, 302], max_tokens: 6, temperature: 0, top_p: 1, ignore_eos: true };

  it("times the first chunk and every later chunk; reads usage", async () => {
    gw = await startFakeGateway({ plan: () => ({ kind: "stream", ttftMs: 120, itlMs: 40 }) });
    const out = await streamCompletion(gw.url, body, { timeoutMs: 10_000 });
    expect(out.status).toBe("ok");
    if (out.status !== "ok") return;
    expect(out.chunkTimesMs).toHaveLength(6);
    const ttft = out.chunkTimesMs[0]! - out.sendMs;
    expect(ttft).toBeGreaterThanOrEqual(110);
    expect(ttft).toBeLessThan(2000);
    const gaps = out.chunkTimesMs.slice(1).map((t, i) => t - out.chunkTimesMs[i]!);
    expect(gaps.reduce((a, b) => a + b, 0) / gaps.length).toBeGreaterThanOrEqual(35);
    expect(out.usage).toEqual({ prompt_tokens: 3, completion_tokens: 6, total_tokens: 9 });
    expect(gw.bodies[0]).toMatchObject({ stream: true, stream_options: { include_usage: true }, ignore_eos: true, prompt: [300, 301, 302] });
  });

  it("classifies failures: status codes with Retry-After, timeout, dropped connection, bad JSON, refused", async () => {
    const plans = [
      { kind: "status", status: 429, retryAfter: "2" },
      { kind: "status", status: 503, retryAfter: "1" },
      { kind: "status", status: 400 },
      { kind: "status", status: 500 },
      { kind: "hang" },
      { kind: "drop" },
      { kind: "badjson" },
    ] as const;
    gw = await startFakeGateway({ plan: (n) => plans[n - 1]! });
    const kinds = [];
    for (let i = 0; i < plans.length; i++) {
      const out = await streamCompletion(gw.url, body, { timeoutMs: 400 });
      kinds.push(out.status === "failed" ? [out.failure.kind, out.failure.status ?? null, out.failure.retryAfterS ?? null] : out.status);
    }
    expect(kinds).toEqual([
      ["http_429", 429, 2],
      ["http_503", 503, 1],
      ["http_4xx", 400, null],
      ["http_5xx", 500, null],
      ["timeout", null, null],
      ["connection", null, null],
      ["stream_parse", 200, null],
    ]);
    const url = gw.url;
    await gw.close();
    gw = undefined;
    const refused = await streamCompletion(url, body, { timeoutMs: 2000 });
    expect(refused.status === "failed" && refused.failure.kind).toBe("connection");
  });

  it("reports an aborted request as cancelled, not as an error", async () => {
    gw = await startFakeGateway({ plan: () => ({ kind: "hang" }) });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 100);
    const out = await streamCompletion(gw.url, body, { timeoutMs: 10_000, signal: ctrl.signal });
    expect(out.status).toBe("cancelled");
  });
});
