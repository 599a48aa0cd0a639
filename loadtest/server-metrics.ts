/**
 * Server-side view of a run from `/metrics` scrapes (pure): counter deltas between the first and
 * last good scrape, per-stage busy time per generated token, per-expert load skew per layer,
 * queue depth over time, server-side TTFT/ITL histograms. Missing series are "not available".
 */
import { METRIC_LABELS as L, METRIC_NAMES as N } from "../transport/index.js";
import type { MetricsScrape, PromSample } from "./metrics-scrape.js";

/** The gateway's series the report reads (names from transport/metric-names.ts, shared with the gateway). */
export const SERIES = Object.freeze({
  queueDepth: N.queueDepth,
  running: N.running,
  ttft: N.ttft,
  itl: N.itl,
  generated: N.generated,
  expertTokens: N.expertTokens,
  stageBusy: N.stageBusy,
  hostErrors: N.hostErrors,
});

/** A gauge sampled over time; `tS` seconds from the run's start. */
export interface GaugePoint {
  readonly tS: number;
  readonly value: number;
}

/** Busy time of one pipeline stage on one host during the run. */
export interface StageLoad {
  readonly stage: string;
  readonly host: string;
  /** Δ moe_stage_busy_seconds_total, seconds. */
  readonly busyS: number;
  /** busyS per generated token, milliseconds/token. */
  readonly busyMsPerToken: number | null;
  /** busyS / run duration (0..1 for a serial stage; may exceed 1 with parallel workers). */
  readonly utilization: number;
}

/** Tokens routed to each expert of one layer during the run. */
export interface LayerExpertLoad {
  readonly layer: string;
  /** Expert labels, ascending (numerically when numeric). */
  readonly experts: readonly string[];
  /** Δ moe_expert_tokens_total per expert, aligned with `experts`. */
  readonly tokens: readonly number[];
  readonly total: number;
  readonly mean: number;
  readonly max: number;
  readonly min: number;
  /** max / mean (1 = perfectly balanced); null when nothing was routed. */
  readonly skew: number | null;
  /** Label of the most loaded expert. */
  readonly hottest: string | null;
}

/** A server-side latency histogram's delta over the run, milliseconds. */
export interface HistogramSummary {
  readonly count: number;
  readonly mean: number;
  /** Bucket-interpolated (Prometheus `histogram_quantile`), so only as fine as the buckets. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/** Everything the report shows from the gateway's `/metrics`; each part null when not available. */
export interface ServerMetricsReport {
  readonly available: boolean;
  /** Why nothing is available (no /metrics, scrapes failed, disabled). */
  readonly reason?: string;
  readonly scrapes: number;
  readonly failedScrapes: number;
  /** Series of {@link SERIES} absent from the last good scrape. */
  readonly missing: readonly string[];
  /** Δ moe_generated_tokens_total. */
  readonly generatedTokens: number | null;
  /** Which token count the per-token stage times divide by. */
  readonly perTokenBasis: "server" | "client";
  readonly stages: readonly StageLoad[] | null;
  readonly experts: { readonly layers: readonly LayerExpertLoad[]; readonly maxSkew: number | null; readonly meanSkew: number | null } | null;
  readonly queueDepth: readonly GaugePoint[] | null;
  readonly runningSequences: readonly GaugePoint[] | null;
  /** Server-side generated tokens/s between successive scrapes, at the midpoint of each interval. */
  readonly tokensPerS: readonly GaugePoint[] | null;
  readonly ttftMs: HistogramSummary | null;
  readonly itlMs: HistogramSummary | null;
  readonly hostErrors: ReadonlyArray<{ readonly host: string; readonly errors: number }> | null;
}

const key = (s: PromSample): string => s.name + JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)));

/** Counter deltas of series `name` (reset-aware: a decrease means a restart, so `after` is the delta). */
export function counterDeltas(before: readonly PromSample[], after: readonly PromSample[], name: string): Array<{ labels: Readonly<Record<string, string>>; delta: number }> {
  const prev = new Map(before.filter((s) => s.name === name).map((s) => [key(s), s.value]));
  return after
    .filter((s) => s.name === name)
    .map((s) => {
      const b = prev.get(key(s)) ?? 0;
      return { labels: s.labels, delta: s.value >= b ? s.value - b : s.value };
    });
}

const sumOf = (xs: ReadonlyArray<{ delta: number }>): number => xs.reduce((a, x) => a + x.delta, 0);
const has = (samples: readonly PromSample[], name: string): boolean => samples.some((s) => s.name === name);
const byLabel = (a: string, b: string): number => {
  const na = Number(a), nb = Number(b);
  return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a < b ? -1 : a > b ? 1 : 0;
};

/** Sum of a gauge's series at each good scrape. */
function gaugeSeries(scrapes: readonly MetricsScrape[], name: string): GaugePoint[] | null {
  const pts = scrapes.filter((s) => s.samples && has(s.samples, name)).map((s) => ({ tS: s.tS, value: s.samples!.filter((x) => x.name === name).reduce((a, x) => a + x.value, 0) }));
  return pts.length > 0 ? pts : null;
}

/** Quantile `q` (0..1) of cumulative buckets `[le, count]` ascending, as Prometheus `histogram_quantile`. */
export function bucketQuantile(buckets: ReadonlyArray<readonly [number, number]>, q: number): number {
  const total = buckets.length ? buckets[buckets.length - 1]![1] : 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  let prevLe = 0, prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return prevLe;
      return prevLe + (le - prevLe) * (count > prevCount ? (rank - prevCount) / (count - prevCount) : 0);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

function histogramDelta(before: readonly PromSample[], after: readonly PromSample[], base: string): HistogramSummary | null {
  const buckets = counterDeltas(before, after, `${base}_bucket`);
  const count = sumOf(counterDeltas(before, after, `${base}_count`));
  const sum = sumOf(counterDeltas(before, after, `${base}_sum`));
  if (buckets.length === 0 || count <= 0) return null;
  const byLe = new Map<number, number>();
  for (const b of buckets) {
    const le = b.labels.le === "+Inf" ? Infinity : Number(b.labels.le);
    if (!Number.isNaN(le)) byLe.set(le, (byLe.get(le) ?? 0) + b.delta);
  }
  const cum = [...byLe.entries()].sort((a, b) => a[0] - b[0]);
  const q = (p: number): number => bucketQuantile(cum, p) * 1000;
  return { count, mean: (sum / count) * 1000, p50: q(0.5), p90: q(0.9), p99: q(0.99) };
}

function expertLoads(before: readonly PromSample[], after: readonly PromSample[]): ServerMetricsReport["experts"] {
  const deltas = counterDeltas(before, after, SERIES.expertTokens);
  if (deltas.length === 0) return null;
  const layers = new Map<string, Map<string, number>>();
  for (const d of deltas) {
    const l = d.labels[L.layer] ?? "?", e = d.labels[L.expert] ?? "?";
    const m = layers.get(l) ?? new Map<string, number>();
    m.set(e, (m.get(e) ?? 0) + d.delta);
    layers.set(l, m);
  }
  const rows: LayerExpertLoad[] = [...layers.keys()].sort(byLabel).map((layer) => {
    const m = layers.get(layer)!;
    const experts = [...m.keys()].sort(byLabel);
    const tokens = experts.map((e) => m.get(e)!);
    const total = tokens.reduce((a, b) => a + b, 0);
    const mean = total / tokens.length;
    const max = Math.max(...tokens);
    return { layer, experts, tokens, total, mean, max, min: Math.min(...tokens), skew: mean > 0 ? max / mean : null, hottest: total > 0 ? experts[tokens.indexOf(max)]! : null };
  });
  const skews = rows.map((r) => r.skew).filter((s): s is number => s !== null);
  return { layers: rows, maxSkew: skews.length ? Math.max(...skews) : null, meanSkew: skews.length ? skews.reduce((a, b) => a + b, 0) / skews.length : null };
}

function tokensPerS(scrapes: readonly MetricsScrape[]): GaugePoint[] | null {
  const good = scrapes.filter((s) => s.samples && has(s.samples, SERIES.generated));
  const pts: GaugePoint[] = [];
  for (let i = 1; i < good.length; i++) {
    const dt = good[i]!.tS - good[i - 1]!.tS;
    if (dt > 0) pts.push({ tS: (good[i - 1]!.tS + good[i]!.tS) / 2, value: sumOf(counterDeltas(good[i - 1]!.samples!, good[i]!.samples!, SERIES.generated)) / dt });
  }
  return pts.length > 0 ? pts : null;
}

/**
 * The server-side report of a run from its scrapes (in time order), the client's count of output
 * tokens (the per-token basis when the server's counter is missing) and the run's duration (s).
 */
export function summarizeServerMetrics(scrapes: readonly MetricsScrape[], clientOutputTokens: number, durationS: number, disabledReason?: string): ServerMetricsReport {
  const good = scrapes.filter((s) => s.samples !== null);
  const failedScrapes = scrapes.length - good.length;
  const none = (reason: string): ServerMetricsReport => ({
    available: false, reason, scrapes: scrapes.length, failedScrapes, missing: Object.values(SERIES), generatedTokens: null, perTokenBasis: "client",
    stages: null, experts: null, queueDepth: null, runningSequences: null, tokensPerS: null, ttftMs: null, itlMs: null, hostErrors: null,
  });
  if (disabledReason) return none(disabledReason);
  if (good.length === 0) return none(scrapes.find((s) => s.error)?.error ?? "no /metrics scrape succeeded");
  const before = good[0]!.samples!, after = good[good.length - 1]!.samples!;
  const missing = Object.values(SERIES).filter((n) => ![n, `${n}_bucket`, `${n}_count`].some((x) => has(after, x)));
  const generated = has(after, SERIES.generated) ? sumOf(counterDeltas(before, after, SERIES.generated)) : null;
  const basis = generated !== null && generated > 0 ? generated : clientOutputTokens;
  const busy = counterDeltas(before, after, SERIES.stageBusy);
  const stages = busy.length === 0 ? null : busy
    .map((b) => ({ stage: b.labels[L.stage] ?? "?", host: b.labels[L.host] ?? "?", busyS: b.delta, busyMsPerToken: basis > 0 ? (b.delta / basis) * 1000 : null, utilization: durationS > 0 ? b.delta / durationS : 0 }))
    .sort((a, b) => byLabel(a.stage, b.stage) || byLabel(a.host, b.host));
  const hostErr = counterDeltas(before, after, SERIES.hostErrors);
  return {
    available: true, scrapes: scrapes.length, failedScrapes, missing, generatedTokens: generated,
    perTokenBasis: generated !== null && generated > 0 ? "server" : "client",
    stages, experts: expertLoads(before, after),
    queueDepth: gaugeSeries(good, SERIES.queueDepth), runningSequences: gaugeSeries(good, SERIES.running), tokensPerS: tokensPerS(good),
    ttftMs: histogramDelta(before, after, SERIES.ttft), itlMs: histogramDelta(before, after, SERIES.itl),
    hostErrors: hostErr.length === 0 ? null : hostErr.map((h) => ({ host: h.labels[L.host] ?? "?", errors: h.delta })).sort((a, b) => byLabel(a.host, b.host)),
  };
}
