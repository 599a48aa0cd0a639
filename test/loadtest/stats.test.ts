import { describe, expect, it } from "vitest";
import { cdfPoints, meetsSlo, parseSlo, percentile, rebinRate, requestTimings, summarize, TokenTimeline } from "../../loadtest/index.js";

describe("percentiles and summaries", () => {
  it("interpolates linearly between closest ranks (numpy's default)", () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBeCloseTo(5.5, 12);
    expect(percentile(xs, 90)).toBeCloseTo(9.1, 12);
    expect(percentile(xs, 99)).toBeCloseTo(9.91, 12);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile([42], 99)).toBe(42);
    expect(percentile([], 50)).toBeNaN();
  });

  it("summarizes unsorted input with mean, population stddev and extremes", () => {
    const s = summarize([10, 2, 8, 4, 6]);
    expect(s).toMatchObject({ count: 5, mean: 6, min: 2, max: 10, p50: 6 });
    expect(s.stddev).toBeCloseTo(Math.sqrt(8), 12);
    expect(s.p90).toBeCloseTo(9.2, 12);
    expect(summarize([])).toEqual({ count: 0, mean: 0, stddev: 0, min: 0, p50: 0, p90: 0, p99: 0, max: 0 });
  });
});

describe("request timings (vLLM conventions)", () => {
  it("derives TTFT, per-chunk ITL, TPOT and E2E from timestamps", () => {
    // sent at 1000 ms; text chunks at 1100, 1130, 1160, 1190; [DONE] at 1200; 4 tokens
    const t = requestTimings(1000, [1100, 1130, 1160, 1190], 1200, 4);
    expect(t.ttftMs).toBe(100);
    expect(t.itlsMs).toEqual([30, 30, 30]);
    expect(t.tpotMs).toBeCloseTo(100 / 3, 12);
    expect(t.e2eMs).toBe(200);
  });

  it("counts one gap per multi-token chunk, so TPOT < ITL when chunks carry several tokens", () => {
    const t = requestTimings(0, [50, 80, 110], 110, 6); // 3 chunks × 2 tokens
    expect(t.itlsMs).toEqual([30, 30]);
    expect(t.tpotMs).toBeCloseTo(60 / 5, 12);
  });

  it("leaves TPOT undefined for one output token and TTFT undefined without text", () => {
    expect(requestTimings(0, [40], 45, 1).tpotMs).toBeUndefined();
    const none = requestTimings(0, [], 45, 0);
    expect(none.ttftMs).toBeUndefined();
    expect(none.e2eMs).toBe(45);
  });
});

describe("goodput SLOs", () => {
  it("parses ttft/tpot/e2el and rejects junk naming the flag", () => {
    expect(parseSlo("ttft:500,tpot:50")).toEqual({ ttftMs: 500, tpotMs: 50 });
    expect(parseSlo("e2e:9000")).toEqual({ e2elMs: 9000 });
    expect(() => parseSlo("ttft:abc")).toThrow(/--slo/);
    expect(() => parseSlo("foo:1")).toThrow(/--slo/);
    expect(() => parseSlo("")).toThrow(/--slo/);
  });

  it("requires every objective; one-token outputs have TPOT 0", () => {
    const slo = { ttftMs: 100, tpotMs: 20 };
    expect(meetsSlo({ ttftMs: 90, tpotMs: 19, e2eMs: 500 }, slo)).toBe(true);
    expect(meetsSlo({ ttftMs: 101, tpotMs: 19, e2eMs: 500 }, slo)).toBe(false);
    expect(meetsSlo({ ttftMs: 90, tpotMs: 21, e2eMs: 500 }, slo)).toBe(false);
    expect(meetsSlo({ ttftMs: 90, e2eMs: 500 }, slo)).toBe(true);
    expect(meetsSlo({ e2eMs: 5 }, { ttftMs: 100 })).toBe(false);
    expect(meetsSlo({ ttftMs: 1, e2eMs: 501 }, { e2elMs: 500 })).toBe(false);
  });
});

describe("CDFs and timelines", () => {
  it("CDF points end at fraction 1 and are downsampled", () => {
    const sorted = Array.from({ length: 1000 }, (_, i) => i);
    const pts = cdfPoints(sorted, 100);
    expect(pts.length).toBeLessThanOrEqual(101);
    expect(pts[0]).toEqual([0, 0.001]);
    expect(pts[pts.length - 1]).toEqual([999, 1]);
    expect(cdfPoints([])).toEqual([]);
  });

  it("re-bins fine token bins into per-second rates", () => {
    const tl = new TokenTimeline(0.1);
    for (let i = 0; i < 30; i++) tl.add(i * 0.1 + 0.05, 10); // 100 tokens/s for 3 s
    const { binS, points } = rebinRate(tl.values(), 0.1, 3, 10);
    expect(binS).toBeCloseTo(0.5, 12);
    expect(points).toHaveLength(6);
    for (const p of points) expect(p.perS).toBeCloseTo(100, 9);
  });
});
