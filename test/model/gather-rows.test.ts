/** gatherRows (model/gating.ts): rows into a new array, or in place into a view of a larger buffer (the router's per-host dispatch buffer). */
import { describe, expect, it } from "vitest";
import { gatherRows } from "../../model/index.js";

describe("gatherRows", () => {
  const D = 3;
  const x = Float32Array.from({ length: 5 * D }, (_, i) => i + 0.5); // row r = [3r + 0.5, 3r + 1.5, 3r + 2.5]
  it("copies the listed rows, in the listed order, repeats included, into a new [rows, D] array", () => {
    expect([...gatherRows(x, D, Int32Array.of(4, 0, 4))]).toEqual([12.5, 13.5, 14.5, 0.5, 1.5, 2.5, 12.5, 13.5, 14.5]);
    expect(gatherRows(x, D, Int32Array.of()).length).toBe(0);
  });
  it("writes into a given view and returns it, leaving the rest of the buffer alone", () => {
    const buf = new Float32Array(4 * D).fill(-1);
    const view = buf.subarray(D, 3 * D);
    expect(gatherRows(x, D, Uint32Array.of(2, 1), view)).toBe(view);
    expect([...buf]).toEqual([-1, -1, -1, 6.5, 7.5, 8.5, 3.5, 4.5, 5.5, -1, -1, -1]);
  });
  it("refuses a buffer too small for the rows", () => {
    expect(() => gatherRows(x, D, Int32Array.of(0, 1), new Float32Array(D))).toThrow(/out holds 3 values, 2 rows of 3 need 6/);
  });
});
