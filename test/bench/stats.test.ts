/** The benchmarks' shared statistics (bench/stats.ts). */
import { describe, expect, it } from "vitest";
import { median } from "../../bench/index.js";

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
