import { describe, expect, it } from "vitest";
import {
  buildReport, buildSweepReport, compileSweep, findKnee, formatSweepSummary, parseHeader, parseLoadList, renderSweepHtml, requestHeaders, serializeReport, toRecord,
  type CurvePoint, type LoadTestReport, type ReportConfig,
} from "../../loadtest/index.js";

const config: ReportConfig = {
  url: "http://gw:8000", model: "m", endpoint: "chat", requests: 2, mode: "closed", concurrency: 1, rate: null, burstiness: null, maxConcurrency: null,
  promptTokens: { mean: 4, stddev: 0 }, maxTokens: { mean: 3, stddev: 0 }, seed: 0, prompt: { kind: "token-ids", vocabRange: { lo: 260, hi: 2048 } },
  auth: { apiKey: true, headers: ["authorization"] }, ignoreEos: true, temperature: 1, topP: 1, timeoutS: 300, slo: null, metricsIntervalS: 1, warmup: 1,
};

/** A point whose E2E latency is `ms` and whose throughput is `tokPerS` output tokens/s (2 requests of 3 tokens). */
function point(load: number, tokPerS: number, ms: number, mode: "closed" | "open" = "closed"): LoadTestReport {
  const durationS = 6 / tokPerS;
  const out = (i: number) => toRecord({ index: i, prompt: [300], promptTokens: 1, maxTokens: 3 }, { status: "ok", sendMs: 0, endMs: ms, chunkTimesMs: [ms / 3, (2 * ms) / 3, ms], usage: { completion_tokens: 3 }, textChars: 3 }, 0, null);
  const recs = [out(0), out(1)];
  const cfg: ReportConfig = mode === "closed" ? { ...config, concurrency: load } : { ...config, mode, concurrency: null, rate: Number.isFinite(load) ? load : "inf", burstiness: 1 };
  return buildReport({ config: cfg, startedAt: new Date(0), durationS, records: recs.map((r) => r.record), itlsMs: recs.flatMap((r) => r.itlsMs), tokenBins: { binS: 0.1, bins: [6] }, scrapes: [], maxScheduleLagMs: null });
}

const cp = (outputTokensPerS: number): CurvePoint => ({ ...buildSweepReport("concurrency", [point(1, 1, 10)], new Date(0)).curve[0]!, outputTokensPerS });

describe("sweep lists and options", () => {
  it("parses --rate and --concurrency lists naming the flag", () => {
    expect(parseLoadList("1, 2,4,inf", "--rate")).toEqual([1, 2, 4, Infinity]);
    expect(parseLoadList("0.5", "--rate")).toEqual([0.5]);
    expect(parseLoadList("1,4,16", "--concurrency")).toEqual([1, 4, 16]);
    expect(() => parseLoadList("1,,2", "--rate")).toThrow(/--rate must be a value or a comma-separated list.*fix: e\.g\. --rate 1,2,4,8/);
    expect(() => parseLoadList("1,0", "--concurrency")).toThrow(/--concurrency values must be integers >= 1, got '0'/);
    expect(() => parseLoadList("2,-1", "--rate")).toThrow(/--rate must be a positive number/);
    expect(() => parseLoadList("4,4", "--concurrency")).toThrow(/lists a value twice/);
  });

  it("compiles one load per point; exactly one variable; --max-concurrency only with rates", () => {
    expect(compileSweep({ url: "http://h", rates: [1, 2], maxConcurrency: 4, burstiness: 0.5 })).toEqual([
      { mode: "open", rate: 1, burstiness: 0.5, maxConcurrency: 4 },
      { mode: "open", rate: 2, burstiness: 0.5, maxConcurrency: 4 },
    ]);
    expect(compileSweep({ url: "http://h", concurrencies: [1, 8] })).toEqual([{ mode: "closed", concurrency: 1 }, { mode: "closed", concurrency: 8 }]);
    expect(() => compileSweep({ url: "http://h", rates: [1], concurrencies: [2] })).toThrow(/exclude each other/);
    expect(() => compileSweep({ url: "http://h" })).toThrow(/give the loads to sweep/);
    expect(() => compileSweep({ url: "http://h", concurrencies: [1, 2], maxConcurrency: 2 })).toThrow(/--max-concurrency caps an open-loop --rate/);
  });

  it("parses headers and builds them with the key", () => {
    expect(parseHeader("X-Tenant:  a:b ")).toEqual(["X-Tenant", "a:b"]);
    expect(() => parseHeader("no colon")).toThrow(/--header must be 'Name: value'.*fix:/);
    expect(() => parseHeader("Bad Name: x")).toThrow(/--header/);
    expect(requestHeaders("k", { "X-A": "1", "x-a": "2" })).toEqual({ authorization: "Bearer k", "x-a": "2" });
    expect(requestHeaders(undefined)).toEqual({});
  });
});

describe("the knee", () => {
  it("is the lowest load reaching 90% of the best throughput; none while throughput still rises at the end", () => {
    expect(findKnee([cp(10), cp(50), cp(92), cp(100), cp(101)])).toMatchObject({ index: 2, outputTokensPerS: 92 });
    expect(findKnee([cp(10), cp(20), cp(40)])).toBeNull();
    expect(findKnee([cp(10), cp(100), cp(80)])).toMatchObject({ index: 1 });
    expect(findKnee([cp(10)])).toBeNull();
    expect(findKnee([cp(0), cp(0)])).toBeNull();
  });
});

describe("the sweep report", () => {
  // given out of order; throughput saturates at 4 while latency keeps growing
  const sweep = buildSweepReport("concurrency", [point(8, 61, 800), point(1, 20, 100), point(4, 60, 300), point(2, 40, 150)], new Date("2025-01-02T00:00:00Z"));

  it("sorts points by load, summarises each, finds the knee", () => {
    expect(sweep.schema).toBe("moe-loadtest-sweep/1");
    expect(sweep.curve.map((c) => c.load)).toEqual([1, 2, 4, 8]);
    expect(sweep.curve.map((c) => Math.round(c.outputTokensPerS))).toEqual([20, 40, 60, 61]);
    expect(sweep.curve.map((c) => c.e2elMs.p50)).toEqual([100, 150, 300, 800]);
    expect(sweep.curve[0]).toMatchObject({ completed: 2, failed: 0, serverTokensPerS: null, goodputPerS: null, maxQueueDepth: null });
    expect(sweep.knee).toMatchObject({ index: 2, load: 4 });
    expect(JSON.parse(serializeReport(sweep)).points).toHaveLength(4);
  });

  it("prints a table with the knee marked", () => {
    const text = formatSweepSummary(sweep);
    expect(text).toMatch(/^4\*\s/m);
    expect(text).toMatch(/knee: 4 workers/);
    expect(text.split("\n").filter((l) => /^\d/.test(l))).toHaveLength(4);
  });

  it("renders one self-contained page: curves against load with the knee, each point collapsed", () => {
    const html = renderSweepHtml(sweep);
    expect((html.match(/<svg class="plot"/g) ?? []).length).toBeGreaterThanOrEqual(7);
    expect(html).toContain("Time to first token against load");
    expect(html).toContain("Knee at 4 workers");
    expect((html.match(/<details>/g) ?? []).length).toBe(4);
    expect(html).toMatch(/class="mark"/);
    expect(html).not.toMatch(/<link|<img|src=|@import|url\(/i);
    const open = buildSweepReport("rate", [point(1, 10, 100, "open"), point(Infinity, 20, 100, "open")], new Date(0));
    expect(open.curve.map((c) => c.load)).toEqual([1, "inf"]);
    expect(renderSweepHtml(open)).toContain("inf req/s");
  });
});
