/**
 * The gateway's concurrency limit from the KV memory the engine will really use: a plan sized its
 * KV cache at `assumptions.kvBytesPerElement`; the engine stores K and V in
 * {@link ENGINE_KV_BYTES_PER_ELEMENT}-byte elements, so the same free memory holds proportionally
 * fewer (or more) tokens.
 */
import { ENGINE_KV_BYTES_PER_ELEMENT } from "../model/index.js";
import type { PlanJson } from "../planner/index.js";

/** Scheduler limits of `plan` with the engine's KV bytes per element (unchanged when the plan assumed them). */
export function engineLimits(plan: Pick<PlanJson, "limits" | "predicted" | "workload"> & { readonly assumptions?: { readonly kvBytesPerElement?: number } }): {
  readonly maxRunningSequences: number;
  readonly maxQueued: number;
} {
  const planned = plan.assumptions?.kvBytesPerElement ?? ENGINE_KV_BYTES_PER_ELEMENT;
  if (planned === ENGINE_KV_BYTES_PER_ELEMENT || plan.limits.maxRunningSequences === 0) return plan.limits;
  const tokens = Math.floor((plan.predicted.kvCapacityTokens * planned) / ENGINE_KV_BYTES_PER_ELEMENT);
  const sequences = Math.max(1, Math.floor(tokens / plan.workload.context));
  return { maxRunningSequences: sequences, maxQueued: 4 * sequences };
}
