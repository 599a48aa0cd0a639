import { describe, expect, it } from "vitest";
import {
  buildReport, compileOptions, formatSummary, progressWanted, renderHtml, serializeReport, toRecord,
  type ReportConfig, type RequestRecord, type SyntheticRequest,
} from "../../loadtest/index.js";

const config: ReportConfig = {
  url: "http://gw:8000", model: "grok-1-tiny <test>", endpoint: "completions", requests: 3, mode: "closed", concurrency: 2, rate: null, burstiness: null, maxConcurrency: null,
  auth: { apiKey: true, headers: ["authorization"] },
  promptTokens: { mean: 10, stddev: 0 }, maxTokens: { mean: 4, stddev: 0 }, seed: 0, prompt: { kind: "token-ids", vocabRange: { lo: 260, hi: 2048 } },
  ignoreEos: true, temperature: 1, topP: 1, timeoutS: 300, slo: { ttftMs: 150 }, metricsIntervalS: 1, warmup: 0,
};
const req = (index: number): SyntheticRequest => ({ index, prompt: [300, 301], promptTokens: 2, maxTokens: 4 });

function records(): RequestRecord[] {
  // all times in ms on one clock; run starts at 1000
  const a = toRecord(req(0), { status: "ok", sendMs: 1000, endMs: 1400, chunkTimesMs: [1100, 1200, 1300, 1400], usage: { prompt_tokens: 3, completion_tokens: 4 }, textChars: 8 }, 1000, config.slo);
  const b = toRecord(req(1), { status: "ok", sendMs: 1000, endMs: 1800, chunkTimesMs: [1200, 1800], usage: { completion_tokens: 4 }, textChars: 8 }, 1000, config.slo);
  const c = toRecord(req(2), { status: "failed", sendMs: 1400, endMs: 1450, chunkTimesMs: [], failure: { kind: "http_429", status: 429, message: "busy", retryAfterS: 1 } }, 1000, config.slo);
  return [a.record, b.record, c.record];
}

describe("report assembly (pure)", () => {
  const recs = records();
  const report = buildReport({
    config, startedAt: new Date("2025-01-01T00:00:00Z"), durationS: 0.8, records: recs, itlsMs: [100, 100, 100, 600],
    tokenBins: { binS: 0.1, bins: [0, 1, 1, 1, 1, 0, 0, 0, 2] }, scrapes: [], maxScheduleLagMs: null,
  });

  it("turns outcomes into records with usage-derived tokens and SLO verdicts", () => {
    expect(recs[0]).toMatchObject({ status: "ok", ttftMs: 100, tpotMs: 100, e2eMs: 400, outputTokens: 4, outputTokensSource: "usage", serverPromptTokens: 3, meanItlMs: 100, good: true });
    expect(recs[1]).toMatchObject({ ttftMs: 200, tpotMs: 200, chunks: 2, good: false, serverPromptTokens: null });
    expect(recs[2]).toMatchObject({ status: "failed", startS: 0.4, endS: 0.45, good: null, error: { kind: "http_429" } });
  });

  it("computes throughput, goodput, latency stats, errors and timelines", () => {
    expect(report.summary).toMatchObject({ total: 3, completed: 2, failed: 1, outputTokens: 8, inputTokens: 5, maxInFlight: 2 });
    expect(report.summary.requestThroughput).toBeCloseTo(2.5, 12);
    expect(report.summary.outputTokenThroughput).toBeCloseTo(10, 12);
    expect(report.summary.goodput).toEqual({ good: 1, requestsPerS: 1.25, fractionOfCompleted: 0.5 });
    expect(report.latencyMs.ttft).toMatchObject({ count: 2, mean: 150, p50: 150 });
    expect(report.latencyMs.itl).toMatchObject({ count: 4, p50: 100, max: 600 });
    expect(report.errors.byKind.http_429).toBe(1);
    expect(report.errors.examples).toEqual([{ kind: "http_429", status: 429, message: "busy", count: 1 }]);
    expect(report.timeline.outputTokensPerS.reduce((a, p) => a + p.perS * report.timeline.binS, 0)).toBeCloseTo(6, 9);
    expect(report.cdf.e2el[report.cdf.e2el.length - 1]).toEqual([800, 1]);
    expect(report.server).toMatchObject({ available: false });
  });

  it("serializes to stable JSON (non-finite numbers → null)", () => {
    const j = JSON.parse(serializeReport({ ...report, summary: { ...report.summary, maxScheduleLagMs: Infinity } }));
    expect(j.schema).toBe("moe-loadtest/2");
    expect(j.summary.maxScheduleLagMs).toBeNull();
    expect(Object.keys(j)).toEqual(["schema", "createdAt", "config", "summary", "latencyMs", "errors", "timeline", "cdf", "server", "requests"]);
  });

  it("renders self-contained HTML: no external resources, escaped text, every plot present", () => {
    const html = renderHtml(report);
    expect(html).not.toMatch(/<link|<img|src=|@import|url\(/i);
    expect(html.match(/https?:\/\/[^"\s<]*/g)?.filter((u) => u !== "http://www.w3.org/2000/svg" && u !== "http://gw:8000")).toEqual([]);
    expect(html).toContain("grok-1-tiny &lt;test&gt;");
    expect(html).toContain("Content-Security-Policy");
    expect((html.match(/<svg class="plot"/g) ?? []).length).toBe(6); // 4 CDFs, tokens/s, in flight; server part not available
    expect(html).toMatch(/not available/);
  });

  it("prints a terminal summary", () => {
    const text = formatSummary(report);
    expect(text).toMatch(/Request throughput \(req\/s\):\s+2\.50/);
    expect(text).toMatch(/Goodput \(req\/s\):\s+1\.25/);
    expect(text).toMatch(/http_429:\s+1/);
    expect(text).toMatch(/Server \(\/metrics\)/);
  });
});

describe("options and progress", () => {
  it("validates options once, naming the flag", () => {
    expect(compileOptions({ url: "http://h:1" })).toMatchObject({ requests: 100, load: { mode: "closed", concurrency: 4 }, endpoint: "completions", headers: {}, dataset: null, promptTokens: { mean: 256, stddev: 0 }, maxTokens: { mean: 128, stddev: 0 }, timeoutMs: 300_000 });
    expect(compileOptions({ url: "http://h:1", rate: 2 })).toMatchObject({ load: { mode: "open", rate: 2, burstiness: 1, maxConcurrency: null } });
    expect(compileOptions({ url: "http://h:1", rate: 2, maxConcurrency: 3 }).load).toEqual({ mode: "open", rate: 2, burstiness: 1, maxConcurrency: 3 });
    expect(() => compileOptions({ url: "http://h:1", concurrency: 2, maxConcurrency: 3 })).toThrow(/--max-concurrency caps an open-loop --rate/);
    expect(() => compileOptions({ url: "http://h:1", rate: 2, maxConcurrency: 0 })).toThrow(/--max-concurrency must be an integer >= 1/);
    expect(compileOptions({ url: "http://h:1", apiKey: "k", headers: { "X-A": "1" } }).headers).toEqual({ authorization: "Bearer k", "x-a": "1" });
    expect(compileOptions({ url: "http://h:1", apiKey: "k", headers: { Authorization: "Token t" } }).headers).toEqual({ authorization: "Token t" });
    expect(() => compileOptions({ url: "http://h:1", apiKey: "a b" })).toThrow(/--api-key/);
    expect(() => compileOptions({ url: "http://h:1", endpoint: "chat" })).toThrow(/--endpoint chat sends text.*--tokenizer.*fix:.*--dataset/);
    expect(compileOptions({ url: "http://h:1", endpoint: "chat", dataset: "d.jsonl" })).toMatchObject({ endpoint: "chat", dataset: { file: "d.jsonl", format: "jsonl" } });
    expect(compileOptions({ url: "http://h:1", dataset: "d.json" }).dataset).toEqual({ file: "d.json", format: "sharegpt" });
    expect(() => compileOptions({ url: "http://h:1", datasetFormat: "jsonl" })).toThrow(/--dataset-format needs --dataset/);
    expect(() => compileOptions({ url: "http://h:1", requests: 0 })).toThrow(/--requests/);
    expect(() => compileOptions({ url: "http://h:1", burstiness: 2 })).toThrow(/--burstiness needs --rate/);
    expect(() => compileOptions({ url: "http://h:1", promptTokens: "x" })).toThrow(/--prompt-tokens/);
    expect(() => compileOptions({ url: "ftp://h" })).toThrow(/--url/);
  });

  it("shows a progress bar only on a TTY outside CI", () => {
    expect(progressWanted(true, {})).toBe(true);
    expect(progressWanted(true, { CI: "true" })).toBe(false);
    expect(progressWanted(true, { CI: "1" })).toBe(false);
    expect(progressWanted(true, { CI: "false" })).toBe(true);
    expect(progressWanted(false, {})).toBe(false);
    expect(progressWanted(undefined, {})).toBe(false);
  });
});
