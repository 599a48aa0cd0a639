/**
 * The JSON report: a stable, versioned schema (`schema: "moe-loadtest/2"`; fields are only ever
 * added within a version) and the pure function that builds it from what a run recorded. Units
 * are in the names: `…Ms` milliseconds, `…S` seconds, `…PerS` per second. Version 2 (over 1):
 * `config.endpoint`, `config.maxConcurrency`, `config.auth`, `config.prompt.kind: "dataset"`,
 * and a request's `promptTokens` may be null (dataset text without a tokenizer).
 */
import { ERROR_KINDS, type ErrorKind, type RequestFailure } from "./errors.js";
import type { MetricsScrape } from "./metrics-scrape.js";
import type { Endpoint } from "./client.js";
import type { DatasetFormat } from "./datasets.js";
import type { LengthDist, VocabRange } from "./prompts.js";
import { summarizeServerMetrics, type GaugePoint, type ServerMetricsReport } from "./server-metrics.js";
import { cdfPoints, meetsSlo, rebinRate, sortedCopy, summarize, type LatencyStats, type RatePoint, type Slo } from "./stats.js";

export type { GaugePoint, HistogramSummary, LayerExpertLoad, ServerMetricsReport, StageLoad } from "./server-metrics.js";
export type { LatencyStats, RatePoint, Slo } from "./stats.js";

/** Schema identifier of {@link LoadTestReport}. */
export const REPORT_SCHEMA = "moe-loadtest/2";

/** The run's settings, as resolved (defaults filled in). */
export interface ReportConfig {
  readonly url: string;
  readonly model: string;
  /** The endpoint driven: `/v1/completions` or `/v1/chat/completions`. */
  readonly endpoint: Endpoint;
  readonly requests: number;
  /** closed: `concurrency` workers back to back; open: arrivals at `rate` req/s. */
  readonly mode: "closed" | "open";
  readonly concurrency: number | null;
  /** Requests/s, or "inf" (all at t = 0). */
  readonly rate: number | "inf" | null;
  /** Gamma shape of inter-arrival times (1 = Poisson). */
  readonly burstiness: number | null;
  /** Open loop: most requests in flight (null: uncapped or closed loop). */
  readonly maxConcurrency: number | null;
  readonly promptTokens: LengthDist;
  readonly maxTokens: LengthDist;
  readonly seed: number;
  readonly prompt:
    | { readonly kind: "token-ids"; readonly vocabRange: VocabRange }
    | { readonly kind: "text"; readonly tokenizer: string; readonly vocabRange: VocabRange | null }
    | {
        readonly kind: "dataset";
        readonly file: string;
        readonly format: DatasetFormat;
        /** Entries in the file. */
        readonly entries: number;
        /** Distinct entries the requests use. */
        readonly used: number;
        /** Entries left out (fewer than two turns, empty, longer than the context). */
        readonly skipped: number;
        readonly tokenizer: string | null;
      };
  /** Whether an API key was sent, and the names (never the values) of the request headers. */
  readonly auth: { readonly apiKey: boolean; readonly headers: readonly string[] };
  readonly ignoreEos: boolean;
  readonly temperature: number;
  readonly topP: number;
  readonly timeoutS: number;
  readonly slo: Slo | null;
  /** Seconds between `/metrics` scrapes during the run; null when scraping was off. */
  readonly metricsIntervalS: number | null;
  /** Untimed requests sent before the run. */
  readonly warmup: number;
}

/** One request of the run. */
export interface RequestRecord {
  readonly index: number;
  /** Send time, seconds from the run's start. */
  readonly startS: number;
  /** End (or failure) time, seconds from the run's start. */
  readonly endS: number;
  readonly status: "ok" | "failed" | "cancelled";
  /** Prompt tokens sent, as the load tester counts them (null: unknown, dataset text without a tokenizer). */
  readonly promptTokens: number | null;
  /** usage.prompt_tokens, when the gateway reported it. */
  readonly serverPromptTokens: number | null;
  readonly maxTokens: number;
  /** usage.completion_tokens, else the number of text-bearing chunks (a lower bound). */
  readonly outputTokens: number;
  readonly outputTokensSource: "usage" | "chunks";
  /** Text-bearing chunks received. */
  readonly chunks: number;
  readonly ttftMs: number | null;
  readonly tpotMs: number | null;
  readonly meanItlMs: number | null;
  readonly e2eMs: number;
  /** Whether it met every SLO (null without `--slo` or when it failed). */
  readonly good: boolean | null;
  readonly error: RequestFailure | null;
}

/** Totals and rates of the run. */
export interface RunSummary {
  /** First send to last response end, seconds. */
  readonly durationS: number;
  readonly total: number;
  readonly completed: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** completed / durationS. */
  readonly requestThroughput: number;
  /** Output tokens of completed requests / durationS. */
  readonly outputTokenThroughput: number;
  /** (prompt + output tokens of completed requests) / durationS. */
  readonly totalTokenThroughput: number;
  /** Requests/s meeting every SLO; null without `--slo`. */
  readonly goodput: { readonly good: number; readonly requestsPerS: number; readonly fractionOfCompleted: number } | null;
  /** Most requests in flight at once. */
  readonly maxInFlight: number;
  /** Open loop: how late the latest send was against its schedule, ms (client saturation check). */
  readonly maxScheduleLagMs: number | null;
}

/** The whole report. */
export interface LoadTestReport {
  readonly schema: typeof REPORT_SCHEMA;
  /** ISO 8601 time the run started. */
  readonly createdAt: string;
  readonly config: ReportConfig;
  readonly summary: RunSummary;
  /** Client-side latencies over completed requests (conventions in stats.ts). */
  readonly latencyMs: { readonly ttft: LatencyStats; readonly tpot: LatencyStats; readonly itl: LatencyStats; readonly e2el: LatencyStats };
  readonly errors: {
    readonly total: number;
    readonly byKind: Readonly<Record<ErrorKind, number>>;
    /** Distinct (kind, status, message) with counts, most frequent first, at most 20. */
    readonly examples: ReadonlyArray<{ readonly kind: ErrorKind; readonly status: number | null; readonly message: string; readonly count: number }>;
  };
  /** Client-side rates over time, in bins of `binS` seconds starting at `tS`. */
  readonly timeline: { readonly binS: number; readonly outputTokensPerS: readonly RatePoint[]; readonly completedPerS: readonly RatePoint[]; readonly inFlight: readonly GaugePoint[] };
  /** Empirical CDFs, `[ms, fraction ≤ ms]`, at most 200 points each. */
  readonly cdf: { readonly ttft: ReadonlyArray<[number, number]>; readonly tpot: ReadonlyArray<[number, number]>; readonly itl: ReadonlyArray<[number, number]>; readonly e2el: ReadonlyArray<[number, number]> };
  readonly server: ServerMetricsReport;
  readonly requests: readonly RequestRecord[];
}

/** What a run recorded, input of {@link buildReport}. */
export interface RunData {
  readonly config: ReportConfig;
  readonly startedAt: Date;
  readonly durationS: number;
  readonly records: readonly RequestRecord[];
  /** Every inter-chunk gap of completed requests, ms. */
  readonly itlsMs: ArrayLike<number>;
  /** Output tokens per fine time bin of `binS` seconds. */
  readonly tokenBins: { readonly binS: number; readonly bins: readonly number[] };
  readonly scrapes: readonly MetricsScrape[];
  /** Set when scraping was turned off (the report says why nothing is available). */
  readonly metricsDisabled?: string;
  readonly maxScheduleLagMs: number | null;
}

function binCounts(times: readonly number[], binS: number, durationS: number): number[] {
  const bins = new Array<number>(Math.max(1, Math.ceil(durationS / binS))).fill(0);
  for (const t of times) bins[Math.min(bins.length - 1, Math.max(0, Math.floor(t / binS)))]! += 1;
  return bins;
}

/** Requests in flight at each time of `at` and the maximum over the whole run. */
function inFlight(records: readonly RequestRecord[], at: readonly number[]): { points: GaugePoint[]; max: number } {
  const events = records.flatMap((r) => [[r.startS, 1], [r.endS, -1]] as Array<[number, number]>).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0, max = 0, j = 0;
  const points: GaugePoint[] = [];
  for (const t of at) {
    while (j < events.length && events[j]![0] <= t) {
      cur += events[j]![1];
      max = Math.max(max, cur);
      j++;
    }
    points.push({ tS: t, value: cur });
  }
  for (; j < events.length; j++) max = Math.max(max, (cur += events[j]![1]));
  return { points, max };
}

function errorSummary(records: readonly RequestRecord[]): LoadTestReport["errors"] {
  const byKind = Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<ErrorKind, number>;
  const ex = new Map<string, { kind: ErrorKind; status: number | null; message: string; count: number }>();
  for (const r of records) {
    if (!r.error) continue;
    byKind[r.error.kind] += 1;
    const k = `${r.error.kind}|${r.error.status ?? ""}|${r.error.message}`;
    const e = ex.get(k) ?? { kind: r.error.kind, status: r.error.status ?? null, message: r.error.message, count: 0 };
    e.count += 1;
    ex.set(k, e);
  }
  const total = Object.values(byKind).reduce((a, b) => a + b, 0);
  return { total, byKind, examples: [...ex.values()].sort((a, b) => b.count - a.count).slice(0, 20) };
}

/** Assemble the report (pure). */
export function buildReport(run: RunData): LoadTestReport {
  const ok = run.records.filter((r) => r.status === "ok");
  const d = run.durationS > 0 ? run.durationS : Number.MIN_VALUE;
  const outputTokens = ok.reduce((a, r) => a + r.outputTokens, 0);
  const inputTokens = ok.reduce((a, r) => a + (r.serverPromptTokens ?? r.promptTokens ?? 0), 0);
  const vals = (f: (r: RequestRecord) => number | null): number[] => ok.map(f).filter((x): x is number => x !== null);
  const sorted = { ttft: sortedCopy(vals((r) => r.ttftMs)), tpot: sortedCopy(vals((r) => r.tpotMs)), itl: sortedCopy(run.itlsMs), e2el: sortedCopy(ok.map((r) => r.e2eMs)) };
  const good = run.config.slo ? ok.filter((r) => r.good).length : 0;
  const tokens = rebinRate(run.tokenBins.bins, run.tokenBins.binS, run.durationS);
  const completedFine = binCounts(ok.map((r) => r.endS), run.tokenBins.binS, run.durationS);
  const completed = rebinRate(completedFine, run.tokenBins.binS, run.durationS);
  const flight = inFlight(run.records, tokens.points.map((p) => p.tS + tokens.binS / 2));
  return {
    schema: REPORT_SCHEMA,
    createdAt: run.startedAt.toISOString(),
    config: run.config,
    summary: {
      durationS: run.durationS,
      total: run.records.length,
      completed: ok.length,
      failed: run.records.filter((r) => r.status === "failed").length,
      cancelled: run.records.filter((r) => r.status === "cancelled").length,
      inputTokens,
      outputTokens,
      requestThroughput: ok.length / d,
      outputTokenThroughput: outputTokens / d,
      totalTokenThroughput: (inputTokens + outputTokens) / d,
      goodput: run.config.slo ? { good, requestsPerS: good / d, fractionOfCompleted: ok.length ? good / ok.length : 0 } : null,
      maxInFlight: flight.max,
      maxScheduleLagMs: run.maxScheduleLagMs,
    },
    latencyMs: { ttft: summarize(sorted.ttft), tpot: summarize(sorted.tpot), itl: summarize(sorted.itl), e2el: summarize(sorted.e2el) },
    errors: errorSummary(run.records),
    timeline: { binS: tokens.binS, outputTokensPerS: tokens.points, completedPerS: completed.points, inFlight: flight.points },
    cdf: { ttft: cdfPoints(sorted.ttft), tpot: cdfPoints(sorted.tpot), itl: cdfPoints(sorted.itl), e2el: cdfPoints(sorted.e2el) },
    server: summarizeServerMetrics(run.scrapes, outputTokens, run.durationS, run.metricsDisabled),
    requests: run.records,
  };
}

/** Whether a request met `slo` (null when there is none or it failed). */
export function goodness(r: Pick<RequestRecord, "status" | "ttftMs" | "tpotMs" | "e2eMs">, slo: Slo | null): boolean | null {
  if (!slo || r.status !== "ok") return null;
  return meetsSlo({ ttftMs: r.ttftMs ?? undefined, tpotMs: r.tpotMs ?? undefined, e2eMs: r.e2eMs }, slo);
}

/** A report (or a sweep's, see report-sweep.ts) as pretty JSON text (Infinity/NaN become null). */
export function serializeReport(report: LoadTestReport | { readonly schema: string }): string {
  return JSON.stringify(report, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2) + "\n";
}
