/**
 * Open-loop arrival schedules: inter-arrival times ~ gamma(shape = B, scale = 1/(R·B)), so the
 * mean rate is R req/s and the coefficient of variation is 1/√B (B = 1: Poisson; B < 1: burstier;
 * B > 1: more regular), as in vLLM's `benchmark_serving --burstiness`. Seeded, pure.
 */
import { LoadTestOptionError } from "./errors.js";
import { createRng, gamma } from "./random.js";

/** What an open-loop schedule is drawn from. */
export interface ArrivalPlan {
  /** Number of requests. */
  readonly count: number;
  /** Mean arrival rate, requests/s; `Infinity` sends everything at t = 0. */
  readonly rate: number;
  /** Gamma shape B > 0 (1 = Poisson). */
  readonly burstiness: number;
  readonly seed: number;
}

/**
 * Send times in seconds from the start, non-decreasing, length `count`. The first request goes at
 * t = 0 and request i at the sum of the first i inter-arrival gaps.
 */
export function arrivalOffsets(plan: ArrivalPlan): number[] {
  const out = new Array<number>(plan.count).fill(0);
  if (!Number.isFinite(plan.rate)) return out;
  const rng = createRng(plan.seed, "arrivals");
  const scale = 1 / (plan.rate * plan.burstiness);
  for (let i = 1; i < plan.count; i++) out[i] = out[i - 1]! + gamma(rng, plan.burstiness, scale);
  return out;
}

/** Parse `--rate`: a positive number of requests/s, or `inf`. */
export function parseRate(spec: string, field = "--rate"): number {
  if (/^(inf|infinity)$/i.test(spec.trim())) return Infinity;
  const r = Number(spec);
  if (!Number.isFinite(r) || r <= 0) throw new LoadTestOptionError(`${field} must be a positive number of requests/s or 'inf', got '${spec}'`, { field });
  return r;
}
