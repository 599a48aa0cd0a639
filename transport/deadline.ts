/**
 * Deadlines, in one place: every message's `deadline` header is an absolute
 * unix time in ms (0 or absent = none); senders turn "ms from now" into it
 * and receivers turn it back into "ms left" for their own requests. The
 * default deadline of one pipeline step lives here too.
 */

/** Default deadline of one pipeline step, ms: what a step gets when no caller and no config says. */
export const DEFAULT_STEP_DEADLINE_MS = 30_000;

/** Absolute deadline (unix ms) `ms` from `now`. */
export function deadlineIn(ms: number, now: number = Date.now()): number {
  return now + ms;
}

/** ms from `now` to `deadline`; ≤ 0 once it has passed. */
export function msLeft(deadline: number, now: number = Date.now()): number {
  return deadline - now;
}

/** Whether a header deadline is set (a positive unix time in ms). */
export function hasDeadline(deadline: number | undefined): deadline is number {
  return deadline !== undefined && deadline > 0;
}

/**
 * ms to allow a request made on behalf of a message with `deadline`: what is
 * left of it, at least 1 ms (the request then fails fast rather than never
 * being sent); `fallbackMs` when the message has none.
 */
export function msUntil(deadline: number | undefined, fallbackMs: number = DEFAULT_STEP_DEADLINE_MS, now: number = Date.now()): number {
  return hasDeadline(deadline) ? Math.max(1, deadline - now) : fallbackMs;
}

/** The message's deadline when it has one, else `fallbackMs` from `now` (unix ms). */
export function deadlineOr(deadline: number | undefined, fallbackMs: number = DEFAULT_STEP_DEADLINE_MS, now: number = Date.now()): number {
  return hasDeadline(deadline) ? deadline : now + fallbackMs;
}
