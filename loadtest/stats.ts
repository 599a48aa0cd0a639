/**
 * Latency statistics, per-request timing conventions, goodput and throughput timelines. Pure.
 *
 * Conventions (those of vLLM's `benchmark_serving`, so numbers compare):
 * - TTFT = arrival of the first chunk with non-empty text − send.
 * - ITL = the gap between successive text-bearing chunks: one value per chunk after the first. A
 *   chunk that carries several tokens contributes one gap, not extra zero gaps, so mean ITL is the
 *   per-chunk cadence a user sees and can exceed TPOT when the server batches tokens per chunk.
 * - TPOT = (E2E − TTFT) / (output tokens − 1), only for requests with more than one output token.
 * - E2E = end of the stream (`data: [DONE]`) − send.
 * - Percentiles are exact: sorted samples with linear interpolation between closest ranks (numpy's
 *   default, as vLLM uses), not histogram buckets.
 */
import { LoadTestOptionError } from "./errors.js";

/** Summary of one latency metric, milliseconds. All fields 0 when `count` is 0. */
export interface LatencyStats {
  readonly count: number;
  readonly mean: number;
  readonly stddev: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** The `p`-th percentile (0..100) of ascending `sorted`, linearly interpolated; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/** Ascending copy as a Float64Array (numeric sort). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** Mean, population stddev, min, p50/p90/p99 and max of `values`. */
export function summarize(values: ArrayLike<number>): LatencyStats {
  const s = sortedCopy(values);
  const n = s.length;
  if (n === 0) return { count: 0, mean: 0, stddev: 0, min: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i]!;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (s[i]! - mean) ** 2;
  return { count: n, mean, stddev: Math.sqrt(sq / n), min: s[0]!, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[n - 1]! };
}

/** Per-request timings in milliseconds derived from raw timestamps (all on one monotonic clock, ms). */
export interface RequestTimings {
  /** Undefined when no text-bearing chunk arrived. */
  readonly ttftMs?: number;
  /** One gap per text-bearing chunk after the first. */
  readonly itlsMs: number[];
  /** Undefined when fewer than 2 output tokens. */
  readonly tpotMs?: number;
  readonly e2eMs: number;
}

/** Timings of one request from its send time, text-bearing chunk arrival times, end time and output tokens. */
export function requestTimings(sendMs: number, chunkTimesMs: readonly number[], endMs: number, outputTokens: number): RequestTimings {
  const e2eMs = endMs - sendMs;
  if (chunkTimesMs.length === 0) return { itlsMs: [], e2eMs };
  const ttftMs = chunkTimesMs[0]! - sendMs;
  const itlsMs: number[] = [];
  for (let i = 1; i < chunkTimesMs.length; i++) itlsMs.push(chunkTimesMs[i]! - chunkTimesMs[i - 1]!);
  const tpotMs = outputTokens > 1 ? (e2eMs - ttftMs) / (outputTokens - 1) : undefined;
  return { ttftMs, itlsMs, tpotMs, e2eMs };
}

/** Service-level objectives in milliseconds; a request is "good" when it meets every one given. */
export interface Slo {
  readonly ttftMs?: number;
  readonly tpotMs?: number;
  readonly e2elMs?: number;
}

/** Parse `--slo ttft:MS,tpot:MS[,e2el:MS]` (`e2e` is accepted for `e2el`). */
export function parseSlo(spec: string, field = "--slo"): Slo {
  const out: { ttftMs?: number; tpotMs?: number; e2elMs?: number } = {};
  const keys: Record<string, keyof typeof out> = { ttft: "ttftMs", tpot: "tpotMs", e2el: "e2elMs", e2e: "e2elMs" };
  for (const part of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [k, v, extra] = part.split(":");
    const key = keys[(k ?? "").toLowerCase()];
    const ms = Number(v);
    if (!key || extra !== undefined || !Number.isFinite(ms) || ms <= 0) {
      throw new LoadTestOptionError(`${field} entries must be ttft:MS, tpot:MS or e2el:MS with MS > 0, got '${part}'`, { field, fix: `e.g. ${field} ttft:500,tpot:50` });
    }
    out[key] = ms;
  }
  if (Object.keys(out).length === 0) throw new LoadTestOptionError(`${field} is empty`, { field, fix: `e.g. ${field} ttft:500,tpot:50` });
  return out;
}

/**
 * Whether a successful request meets `slo`. As in vLLM, a request with a single output token has
 * TPOT 0 for this purpose; one without any text chunk fails a TTFT objective.
 */
export function meetsSlo(t: { ttftMs?: number; tpotMs?: number; e2eMs: number }, slo: Slo): boolean {
  if (slo.ttftMs !== undefined && (t.ttftMs === undefined || t.ttftMs > slo.ttftMs)) return false;
  if (slo.tpotMs !== undefined && (t.tpotMs ?? 0) > slo.tpotMs) return false;
  if (slo.e2elMs !== undefined && t.e2eMs > slo.e2elMs) return false;
  return true;
}

/** `[x, fraction ≤ x]` points of the empirical CDF of ascending `sorted`, at most `maxPoints` (≥ 2) of them. */
export function cdfPoints(sorted: ArrayLike<number>, maxPoints = 200): Array<[number, number]> {
  const n = sorted.length;
  if (n === 0) return [];
  const step = Math.max(1, Math.ceil(n / maxPoints));
  const pts: Array<[number, number]> = [];
  for (let i = 0; i < n; i += step) pts.push([sorted[i]!, (i + 1) / n]);
  if (pts[pts.length - 1]![1] !== 1) pts.push([sorted[n - 1]!, 1]);
  return pts;
}

/** Output tokens accumulated in fine fixed-width time bins (default 0.1 s); re-binned for reports. */
export class TokenTimeline {
  private readonly bins: number[] = [];
  constructor(readonly binS = 0.1) {}
  /** Add `tokens` at `tS` seconds from the start (negative times clamp to 0). */
  add(tS: number, tokens: number): void {
    const i = Math.max(0, Math.floor(tS / this.binS));
    while (this.bins.length <= i) this.bins.push(0);
    this.bins[i]! += tokens;
  }
  /** Tokens per fine bin. */
  values(): readonly number[] {
    return this.bins;
  }
}

/** One point of a rate-over-time series: the bin's start time and the rate inside it. */
export interface RatePoint {
  readonly tS: number;
  readonly perS: number;
}

/**
 * Re-bin fine bins of width `fineS` covering `[0, durationS)` into bins of a "nice" width giving
 * at most `maxPoints` points; returns per-second rates.
 */
export function rebinRate(fine: readonly number[], fineS: number, durationS: number, maxPoints = 120): { binS: number; points: RatePoint[] } {
  const nice = [0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
  const binS = nice.find((b) => b >= fineS - 1e-12 && durationS / b <= maxPoints) ?? Math.max(fineS, durationS / maxPoints);
  const per = Math.max(1, Math.round(binS / fineS));
  const nBins = Math.max(1, Math.ceil(durationS / (per * fineS) - 1e-9));
  const points: RatePoint[] = [];
  for (let b = 0; b < nBins; b++) {
    let sum = 0;
    // The last bin also takes fine bins at or past `durationS` (a chunk arriving at the very end).
    const upper = b === nBins - 1 ? fine.length : Math.min(fine.length, (b + 1) * per);
    for (let i = b * per; i < upper; i++) sum += fine[i]!;
    const start = b * per * fineS;
    const width = Math.min(per * fineS, Math.max(durationS - start, fineS));
    points.push({ tS: start, perS: sum / width });
  }
  return { binS: per * fineS, points };
}
