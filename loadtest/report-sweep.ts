/**
 * The sweep report (`schema: "moe-loadtest-sweep/1"`): one full {@link LoadTestReport} per load
 * point, the curve of throughput and latency percentiles against load, and its knee. Pure.
 *
 * The knee is the lowest load whose output-token throughput reaches 90% of the sweep's best:
 * beyond it more load buys little throughput while latency keeps rising. When only the highest
 * load reaches that, the curve has no knee yet (throughput is still rising).
 */
import type { LoadTestReport } from "./report-json.js";

/** Schema identifier of {@link SweepReport}. */
export const SWEEP_SCHEMA = "moe-loadtest-sweep/1";

/** Fraction of the best throughput that marks the knee. */
export const KNEE_FRACTION = 0.9;

/** p50 / p90 / p99 of one latency, milliseconds (null without samples). */
export interface Percentiles {
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
}

/** One point of the curve: what a load gave. */
export interface CurvePoint {
  /** Requests/s (open loop; "inf" = all at once) or workers (closed loop). */
  readonly load: number | "inf";
  readonly completed: number;
  readonly failed: number;
  readonly requestsPerS: number;
  readonly outputTokensPerS: number;
  /** Server-side generated tokens/s (Δ moe_generated_tokens_total ÷ duration), when scraped. */
  readonly serverTokensPerS: number | null;
  readonly goodputPerS: number | null;
  readonly ttftMs: Percentiles;
  readonly tpotMs: Percentiles;
  readonly itlMs: Percentiles;
  readonly e2elMs: Percentiles;
  /** Most requests waiting in the gateway's queue (moe_queue_depth), when scraped. */
  readonly maxQueueDepth: number | null;
}

/** The whole sweep. */
export interface SweepReport {
  readonly schema: typeof SWEEP_SCHEMA;
  readonly createdAt: string;
  /** What varies: the open-loop rate or the closed-loop concurrency. */
  readonly variable: "rate" | "concurrency";
  /** Points in ascending load; `curve[i]` summarises `points[i]`. */
  readonly points: readonly LoadTestReport[];
  readonly curve: readonly CurvePoint[];
  /** Index into `points` of the knee, its load, and the rule; null when throughput is still rising. */
  readonly knee: { readonly index: number; readonly load: number | "inf"; readonly outputTokensPerS: number; readonly rule: string } | null;
}

/** The load of one report, as the sweep varies it. */
export function loadOf(r: LoadTestReport, variable: SweepReport["variable"]): number | "inf" {
  return variable === "rate" ? r.config.rate ?? 0 : r.config.concurrency ?? 0;
}

const num = (x: number | "inf"): number => (x === "inf" ? Infinity : x);

function pct(s: { count: number; p50: number; p90: number; p99: number }): Percentiles {
  return s.count === 0 ? { p50: null, p90: null, p99: null } : { p50: s.p50, p90: s.p90, p99: s.p99 };
}

/** One report's point of the curve. */
export function curvePoint(r: LoadTestReport, variable: SweepReport["variable"]): CurvePoint {
  const s = r.summary, sv = r.server;
  const q = sv.queueDepth;
  return {
    load: loadOf(r, variable),
    completed: s.completed,
    failed: s.failed,
    requestsPerS: s.requestThroughput,
    outputTokensPerS: s.outputTokenThroughput,
    serverTokensPerS: sv.generatedTokens !== null && s.durationS > 0 ? sv.generatedTokens / s.durationS : null,
    goodputPerS: s.goodput ? s.goodput.requestsPerS : null,
    ttftMs: pct(r.latencyMs.ttft),
    tpotMs: pct(r.latencyMs.tpot),
    itlMs: pct(r.latencyMs.itl),
    e2elMs: pct(r.latencyMs.e2el),
    maxQueueDepth: q ? q.reduce((a, p) => Math.max(a, p.value), 0) : null,
  };
}

/** The knee of a curve in ascending load (see the file's comment); null when there is none. */
export function findKnee(curve: readonly CurvePoint[]): SweepReport["knee"] {
  const best = curve.reduce((a, p) => Math.max(a, p.outputTokensPerS), 0);
  if (curve.length < 2 || best <= 0) return null;
  const index = curve.findIndex((p) => p.outputTokensPerS >= KNEE_FRACTION * best);
  if (index === curve.length - 1) return null;
  const p = curve[index]!;
  return { index, load: p.load, outputTokensPerS: p.outputTokensPerS, rule: `lowest load reaching ${KNEE_FRACTION * 100}% of the best output throughput (${best.toFixed(1)} tok/s)` };
}

/** Assemble the sweep report from its points' reports (any order; sorted by load here). */
export function buildSweepReport(variable: SweepReport["variable"], reports: readonly LoadTestReport[], startedAt: Date): SweepReport {
  const points = [...reports].sort((a, b) => num(loadOf(a, variable)) - num(loadOf(b, variable)));
  const curve = points.map((r) => curvePoint(r, variable));
  return { schema: SWEEP_SCHEMA, createdAt: startedAt.toISOString(), variable, points, curve, knee: findKnee(curve) };
}
