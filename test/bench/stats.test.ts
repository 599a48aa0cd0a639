/** The benchmarks' shared statistics (bench/stats.ts). */
import { describe, expect, it } from "vitest";
import { alternatedRatio, median } from "../../bench/index.js";

describe("median", () => {
  it("is the middle value of an odd count, in any order", () => {
    expect(median([7])).toBe(7);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([5, -1, 9, 4, 4])).toBe(4);
  });
  it("is the mean of the two middle values of an even count", () => {
    expect(median([1, 2])).toBe(1.5);
    expect(median([10, 30, 20, 25])).toBe(22.5);
    expect(median([4, 1, 3, 2, 100, 0])).toBe(2.5);
  });
  it("sorts numerically, leaves its input alone, and is NaN when empty", () => {
    const xs = [10, 9, 100, 2];
    expect(median(xs)).toBe(9.5); // a string sort would put 100 before 2
    expect(xs).toEqual([10, 9, 100, 2]);
    expect(median([])).toBeNaN();
  });
});

describe("alternatedRatio", () => {
  it("cancels a constant advantage of going first: pairs of reps (a first, then b first) by their geometric mean", () => {
    // a is truly 0.9 of b; whoever goes first runs 1.25× faster
    const a = [0.9 * 1.25, 0.9, 0.9 * 1.25, 0.9].map((x) => x * 100);
    const b = [100, 125, 100, 125];
    expect(alternatedRatio(a, b)).toBeCloseTo(0.9, 12);
    expect(a.map((x, i) => x / b[i]!)).not.toContain(0.9); // no single rep says so
  });
  it("takes the median over the pairs, an odd last rep alone; NaN when empty; refuses unequal lengths", () => {
    expect(alternatedRatio([4, 1, 9, 1, 2], [1, 1, 1, 1, 1])).toBe(2); // pairs √4 = 2 and √9 = 3, then 2 alone
    expect(alternatedRatio([4, 1, 9, 1], [1, 1, 1, 1])).toBe(2.5);
    expect(alternatedRatio([3], [2])).toBe(1.5);
    expect(alternatedRatio([], [])).toBeNaN();
    expect(() => alternatedRatio([1, 2], [1])).toThrow(/2 and 1 reps/);
  });
});
