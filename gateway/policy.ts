/**
 * The scheduler's decisions as pure functions (no timers, no backend): how
 * many waiting requests to admit, and what goes into the next micro-batch.
 *
 * Policy (continuous batching with chunked prefill):
 * - Admission is FIFO while fewer than `maxRunningSequences` run.
 * - A micro-batch holds at most `maxBatchTokens` tokens. Decode tokens go
 *   first (one per ready sequence, least recently stepped first), except that
 *   while any prompt is waiting for prefill a quarter of the budget is kept for
 *   it, so a burst of decodes never starves prefill either.
 * - Prefill fills the rest of the budget, oldest request first, one chunk per
 *   sequence (a long prompt is split across steps and never blocks decode).
 *   Inner chunks sample nothing (the backend draws only after a prompt's last
 *   chunk), so seeded sampling does not depend on how a prompt was cut.
 * - With a pipeline of depth `maxInFlight`, a micro-batch takes at most
 *   ceil(decoding / maxInFlight) decodes so the running set spreads over that
 *   many micro-batches and every stage has work; a sequence is in at most one
 *   in-flight micro-batch (the caller only passes ready ones).
 */

/** Scheduler limits (from the plan for a cluster; defaults for one process). */
export interface SchedulerLimits {
  /** Most sequences holding a KV cache (running) at once. */
  readonly maxRunningSequences: number;
  /** Most requests waiting for admission; more are refused with 429. */
  readonly maxQueued: number;
  /** Most tokens (decode + prefill) in one micro-batch. */
  readonly maxBatchTokens: number;
}

/** Default limits for a single process. */
export const DEFAULT_LIMITS: SchedulerLimits = Object.freeze({ maxRunningSequences: 64, maxQueued: 256, maxBatchTokens: 512 });

/** Smallest accepted `maxBatchTokens` (the prefill reserve must leave room for decodes). */
export const MIN_BATCH_TOKENS = 16;

/** A running sequence not in any in-flight micro-batch, as the policy sees it. */
export interface ReadySeq {
  readonly id: number;
  /** Prompt tokens not yet sent to the backend; 0 once the sequence decodes. */
  readonly promptLeft: number;
  /** Admission order (smaller = older). */
  readonly arrival: number;
  /** Step counter when the sequence was last in a micro-batch (-1 never). */
  readonly lastStep: number;
}

/** One sequence's share of a planned micro-batch. */
export interface PlannedItem {
  readonly id: number;
  /** Tokens to send: 1 for a decode, the chunk length for a prefill. */
  readonly tokens: number;
  readonly kind: "decode" | "prefill";
}

/** Inputs of {@link planMicroBatch}. */
export interface PlanInput {
  /** Running sequences that are not in flight. */
  readonly ready: readonly ReadySeq[];
  /** Running sequences in the decode phase, in flight or not. */
  readonly decoding: number;
  /** Micro-batches in flight now. */
  readonly inFlight: number;
  /** Pipeline depth: most micro-batches in flight. */
  readonly maxInFlight: number;
  readonly maxBatchTokens: number;
}

/** How many waiting requests to admit now (FIFO). */
export function admitCount(running: number, waiting: number, maxRunningSequences: number): number {
  return Math.max(0, Math.min(waiting, maxRunningSequences - running));
}

/** Tokens of the budget kept for prefill while a prompt waits: a quarter, at least 1, at most what is left of the prompts. */
export function prefillReserve(maxBatchTokens: number, promptTokensLeft: number): number {
  if (promptTokensLeft <= 0) return 0;
  return Math.min(promptTokensLeft, Math.max(1, Math.floor(maxBatchTokens / 4)));
}

/** The next micro-batch; empty when the pipeline is full or nothing is ready. */
export function planMicroBatch(p: PlanInput): PlannedItem[] {
  if (p.inFlight >= p.maxInFlight || p.ready.length === 0) return [];
  const decodes = p.ready.filter((s) => s.promptLeft === 0).sort((a, b) => a.lastStep - b.lastStep || a.arrival - b.arrival);
  const prefills = p.ready.filter((s) => s.promptLeft > 0).sort((a, b) => a.arrival - b.arrival);
  const promptLeft = prefills.reduce((n, s) => n + s.promptLeft, 0);
  const perBatch = Math.max(1, Math.ceil(p.decoding / Math.max(1, p.maxInFlight)));
  const nDecode = Math.max(0, Math.min(decodes.length, perBatch, p.maxBatchTokens - prefillReserve(p.maxBatchTokens, promptLeft)));
  const items: PlannedItem[] = decodes.slice(0, nDecode).map((s) => ({ id: s.id, tokens: 1, kind: "decode" }));
  let budget = p.maxBatchTokens - nDecode;
  for (const s of prefills) {
    if (budget <= 0) break;
    const chunk = Math.min(s.promptLeft, budget);
    items.push({ id: s.id, tokens: chunk, kind: "prefill" });
    budget -= chunk;
  }
  return items;
}
