// loadtest: synthetic load against the OpenAI-compatible gateway, client- and server-side
// metrics, JSON/HTML/terminal reports.

// Running a load test
export { runLoadTest, compileOptions, toRecord } from "./run.js";
export type { LoadTestOptions, LoadTestProgress } from "./run.js";

// Prompts and arrivals (pure, seeded)
export { synthesizeTokenPrompts, synthesizeTextPrompts, sampleLengths, sampleLength, normalPieceIds, parseLengthDist, parseVocabRange, DEFAULT_VOCAB_RANGE } from "./prompts.js";
export type { LengthDist, VocabRange, SyntheticRequest, PromptPlan, PieceTokenizer } from "./prompts.js";
export { arrivalOffsets, parseRate } from "./arrivals.js";
export type { ArrivalPlan } from "./arrivals.js";
export { createRng, gamma, standardNormal, uniformInt } from "./random.js";
export type { Rng } from "./random.js";

// Streaming client
export { streamCompletion, fetchModels, normalizeBaseUrl, parseRetryAfter, SseParser } from "./client.js";
export type { CompletionBody, StreamOutcome, StreamOptions, Usage } from "./client.js";

// Statistics
export { percentile, summarize, requestTimings, parseSlo, meetsSlo, cdfPoints, rebinRate, TokenTimeline } from "./stats.js";

// Server metrics
export { parsePrometheusText, scrapeMetrics } from "./metrics-scrape.js";
export type { PromSample, MetricsScrape } from "./metrics-scrape.js";
export { summarizeServerMetrics, counterDeltas, bucketQuantile, SERIES } from "./server-metrics.js";

// Reports
export { buildReport, serializeReport, REPORT_SCHEMA } from "./report-json.js";
export type { LoadTestReport, ReportConfig, RequestRecord, RunSummary, RunData, LatencyStats, Slo, RatePoint, GaugePoint, HistogramSummary, LayerExpertLoad, ServerMetricsReport, StageLoad } from "./report-json.js";
export { renderHtml, PLOT_COLORS } from "./report-html.js";
export { formatSummary } from "./summary.js";
export { progressWanted, createProgress } from "./progress.js";
export type { ProgressReporter } from "./progress.js";

// Errors
export { LoadTestError, LoadTestOptionError, GatewayUnavailableError, ERROR_KINDS, errorKindForStatus } from "./errors.js";
export type { ErrorKind, RequestFailure } from "./errors.js";
