/** The one place deadlines are computed: header deadlines (unix ms) ↔ ms from now, and the step default. */
import { describe, expect, it } from "vitest";
import { DEFAULT_STEP_MS } from "../../control/index.js";
import { DEFAULT_STEP_DEADLINE_MS, deadlineIn, deadlineOr, hasDeadline, msLeft, msUntil } from "../../transport/index.js";

describe("deadlines", () => {
  const now = 1_700_000_000_000;

  it("converts ms from now to an absolute deadline and back", () => {
    expect(deadlineIn(250, now)).toBe(now + 250);
    expect(msLeft(now + 250, now)).toBe(250);
    expect(msLeft(now - 5, now)).toBe(-5);
    const d = deadlineIn(1000);
    expect(msLeft(d)).toBeGreaterThan(0);
    expect(msLeft(d)).toBeLessThanOrEqual(1000);
  });

  it("gives a request what is left of its message's deadline, at least 1 ms, or the fallback when there is none", () => {
    expect(msUntil(now + 1234, 99, now)).toBe(1234);
    expect(msUntil(now - 50, 99, now)).toBe(1);
    expect(msUntil(undefined, 99, now)).toBe(99);
    expect(msUntil(0, 99, now)).toBe(99);
    expect(msUntil(undefined, undefined, now)).toBe(DEFAULT_STEP_DEADLINE_MS);
    expect(deadlineOr(now + 7, 99, now)).toBe(now + 7);
    expect(deadlineOr(0, 99, now)).toBe(now + 99);
    expect(deadlineOr(undefined, undefined, now)).toBe(now + DEFAULT_STEP_DEADLINE_MS);
    expect(hasDeadline(0)).toBe(false);
    expect(hasDeadline(-1)).toBe(false);
    expect(hasDeadline(now)).toBe(true);
  });

  it("has one default step deadline, 30 s, which control/ re-exports", () => {
    expect(DEFAULT_STEP_DEADLINE_MS).toBe(30_000);
    expect(DEFAULT_STEP_MS).toBe(DEFAULT_STEP_DEADLINE_MS);
  });
});
