import { afterEach, describe, expect, it } from "vitest";
import { formatSummary, renderHtml, runLoadTest, serializeReport, type LoadTestProgress } from "../../loadtest/index.js";
import { startFakeGateway, type FakeGateway } from "./fake-gateway.js";

let gw: FakeGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

// A scripted HTTP server, for what a real gateway cannot be made to do on demand: fixed delays,
// injected error statuses, hangs, dropped connections, multi-token chunks, no usage, no /metrics.
// Runs against the real gateway of a real cluster are in test/cluster/loadtest.test.ts.
describe("runLoadTest against a scripted HTTP server", () => {
  it("closed loop: latencies match the injected delays, 429/500 counted, usage tokens", async () => {
    const TTFT = 100, ITL = 25;
    gw = await startFakeGateway({
      plan: (n) => (n % 10 === 3 ? { kind: "status", status: 429, retryAfter: "0" } : n % 10 === 7 ? { kind: "status", status: 500 } : { kind: "stream", ttftMs: TTFT, itlMs: ITL }),
      layers: 2, experts: 4, hotFactor: 3,
    });
    const progress: LoadTestProgress[] = [];
    const report = await runLoadTest({
      url: gw.url, requests: 20, concurrency: 4, promptTokens: "24:6", maxTokens: "8", seed: 3,
      slo: { ttftMs: 60_000, tpotMs: 60_000 }, metricsIntervalS: 0.1, onProgress: (p) => progress.push(p),
    });
    const s = report.summary;
    expect(report.config).toMatchObject({ model: "grok-1-tiny", mode: "closed", concurrency: 4, ignoreEos: true });
    expect(s).toMatchObject({ total: 20, completed: 16, failed: 4, cancelled: 0 });
    expect(report.errors.byKind).toMatchObject({ http_429: 2, http_5xx: 2, http_503: 0, timeout: 0, connection: 0 });
    expect(report.errors.examples.find((e) => e.kind === "http_429")?.message).toBe("injected 429");
    expect(progress).toHaveLength(20);
    expect(progress[19]).toMatchObject({ done: 20, completed: 16, failed: 4 });
    expect(s.maxInFlight).toBeLessThanOrEqual(4);

    // what the server received: exact prompt lengths, ignore_eos, max_tokens
    expect(gw.bodies).toHaveLength(20);
    for (const b of gw.bodies) expect(b).toMatchObject({ model: "grok-1-tiny", ignore_eos: true, max_tokens: 8, stream: true });
    const ok = report.requests.filter((r) => r.status === "ok");
    for (const r of ok) {
      expect(r.outputTokens).toBe(8);
      expect(r.outputTokensSource).toBe("usage");
      expect(r.serverPromptTokens).toBe(r.promptTokens);
      expect(r.chunks).toBe(8);
      expect(r.good).toBe(true);
    }
    expect(s.outputTokens).toBe(16 * 8);
    expect(s.inputTokens).toBe(ok.reduce((a, r) => a + r.promptTokens!, 0));

    // measured against injected delays, generous upper bounds (a loaded 2-core machine is slow)
    const L = report.latencyMs;
    expect(L.ttft.count).toBe(16);
    expect(L.ttft.min).toBeGreaterThanOrEqual(TTFT - 5);
    expect(L.ttft.p50).toBeLessThan(TTFT + 1500);
    expect(L.itl.count).toBe(16 * 7);
    expect(L.itl.mean).toBeGreaterThanOrEqual(ITL - 3);
    expect(L.itl.p50).toBeLessThan(ITL + 500);
    expect(L.tpot.mean).toBeGreaterThanOrEqual(ITL - 3);
    expect(L.e2el.min).toBeGreaterThanOrEqual(TTFT + 7 * ITL - 10);
    expect(s.goodput).toMatchObject({ good: 16 });
    expect(s.outputTokenThroughput).toBeCloseTo(s.outputTokens / s.durationS, 9);

    // the scraper ran during the run (the server-side numbers are checked against a real gateway in test/cluster/loadtest.test.ts)
    expect(report.server.available).toBe(true);
    expect(report.server.queueDepth!.length).toBeGreaterThanOrEqual(3);

    // reports render from it
    expect(JSON.parse(serializeReport(report)).schema).toBe("moe-loadtest/2");
    expect(formatSummary(report)).toMatch(/Expert load skew max\/mean \(worst layer\):\s+2\.00/);
    expect(renderHtml(report)).toContain("Expert load (tokens routed) per layer");
  });

  it("open loop: gamma arrivals at a rate, multi-token chunks, no usage → chunk counts", async () => {
    gw = await startFakeGateway({ plan: () => ({ kind: "stream", ttftMs: 30, itlMs: 30, tokensPerChunk: 2, usage: false }) });
    const report = await runLoadTest({ url: `${gw.url}/v1`, model: "x", requests: 12, rate: 40, burstiness: 2, maxTokens: "6", promptTokens: "4", seed: 1, metricsIntervalS: 0 });
    expect(report.config).toMatchObject({ mode: "open", rate: 40, burstiness: 2, concurrency: null, model: "x" });
    expect(report.summary.completed).toBe(12);
    expect(report.summary.maxScheduleLagMs).not.toBeNull();
    for (const r of report.requests) {
      expect(r.chunks).toBe(3);
      expect(r.outputTokens).toBe(3); // a lower bound when the server sends no usage
      expect(r.outputTokensSource).toBe("chunks");
    }
    // one ITL per chunk gap: 2 per request
    expect(report.latencyMs.itl.count).toBe(24);
    expect(report.latencyMs.itl.mean).toBeGreaterThanOrEqual(27);
    // sends follow the schedule: spread over ~(12-1)/40 s, not all at once
    const starts = report.requests.map((r) => r.startS);
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThan(0.1);
  });

  it("counts every error kind and still reports when /metrics is absent", async () => {
    const plans = [
      { kind: "stream", ttftMs: 10, itlMs: 5 },
      { kind: "status", status: 503, retryAfter: "0" },
      { kind: "status", status: 404 },
      { kind: "hang" },
      { kind: "drop" },
      { kind: "badjson" },
    ] as const;
    gw = await startFakeGateway({ plan: (n) => plans[(n - 1) % plans.length]!, metrics: false });
    const report = await runLoadTest({ url: gw.url, requests: 6, concurrency: 1, maxTokens: "4", promptTokens: "4", timeoutS: 0.5, metricsIntervalS: 0.1 });
    expect(report.errors.byKind).toEqual({ http_429: 0, http_503: 1, http_4xx: 1, http_5xx: 0, timeout: 1, connection: 1, stream_parse: 1, stream_error: 0 });
    expect(report.summary.completed).toBe(1);
    expect(report.server.available).toBe(false);
    expect(report.server.reason).toMatch(/404/);
    expect(report.server.scrapes).toBe(2); // before and after only: no periodic scraping of a missing endpoint
    expect(formatSummary(report)).toMatch(/not available: GET \/metrics answered HTTP 404/);
    expect(renderHtml(report)).toMatch(/server metrics \(\/metrics\): not available/);
  });

  it("fails fast with an actionable error when the gateway is unreachable", async () => {
    await expect(runLoadTest({ url: "http://127.0.0.1:9", requests: 1 })).rejects.toThrow(/cannot reach .*\/v1\/models.*fix:/);
    await expect(runLoadTest({ url: "http://127.0.0.1:9", concurrency: 2, rate: 3 })).rejects.toThrow(/exclude each other/);
  });
});
