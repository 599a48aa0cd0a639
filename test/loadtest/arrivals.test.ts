import { describe, expect, it } from "vitest";
import { arrivalOffsets, parseRate } from "../../loadtest/index.js";

function gaps(offsets: number[]): number[] {
  return offsets.slice(1).map((t, i) => t - offsets[i]!);
}
function meanCv(xs: number[]): { mean: number; cv: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, cv: sd / mean };
}

describe("open-loop arrivals", () => {
  const n = 20_001;

  it("Poisson (B = 1): mean rate R within 3 %, CV ≈ 1, first request at t = 0", () => {
    const off = arrivalOffsets({ count: n, rate: 10, burstiness: 1, seed: 7 });
    expect(off[0]).toBe(0);
    const { mean, cv } = meanCv(gaps(off));
    expect(1 / mean).toBeGreaterThan(10 * 0.97);
    expect(1 / mean).toBeLessThan(10 * 1.03);
    expect(cv).toBeGreaterThan(0.95);
    expect(cv).toBeLessThan(1.05);
  });

  it("burstiness changes the variance (CV = 1/√B) but not the mean rate", () => {
    for (const [b, cvWant] of [[0.25, 2], [4, 0.5]] as const) {
      const { mean, cv } = meanCv(gaps(arrivalOffsets({ count: n, rate: 5, burstiness: b, seed: 3 })));
      expect(Math.abs(1 / mean - 5) / 5).toBeLessThan(0.05);
      expect(Math.abs(cv - cvWant) / cvWant).toBeLessThan(0.08);
    }
  });

  it("is reproducible by seed and differs across seeds; non-decreasing", () => {
    const a = arrivalOffsets({ count: 500, rate: 3, burstiness: 0.5, seed: 11 });
    expect(arrivalOffsets({ count: 500, rate: 3, burstiness: 0.5, seed: 11 })).toEqual(a);
    expect(arrivalOffsets({ count: 500, rate: 3, burstiness: 0.5, seed: 12 })).not.toEqual(a);
    for (let i = 1; i < a.length; i++) expect(a[i]!).toBeGreaterThanOrEqual(a[i - 1]!);
  });

  it("rate inf sends everything at t = 0; --rate parsing", () => {
    expect(arrivalOffsets({ count: 4, rate: Infinity, burstiness: 1, seed: 0 })).toEqual([0, 0, 0, 0]);
    expect(parseRate("inf")).toBe(Infinity);
    expect(parseRate("2.5")).toBe(2.5);
    expect(() => parseRate("0")).toThrow(/--rate/);
    expect(() => parseRate("fast")).toThrow(/--rate/);
  });
});
