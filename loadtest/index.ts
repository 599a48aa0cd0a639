// loadtest: load against the OpenAI-compatible gateway (completions or chat, synthetic or dataset
// prompts, one load or a sweep), client- and server-side metrics, JSON/HTML/terminal reports.

// Running a load test or a sweep
export { runLoadTest, compileOptions, toRecord, prepare, runPoint } from "./run.js";
export type { LoadTestOptions, LoadTestProgress, Prepared } from "./run.js";
export type { LoadSpec } from "./options.js";
export { runSweep, compileSweep, parseLoadList } from "./sweep.js";
export type { SweepOptions } from "./sweep.js";

// Prompts, datasets and arrivals (pure, seeded)
export { synthesizeTokenPrompts, synthesizeTextPrompts, sampleLengths, sampleLength, normalPieceIds, parseLengthDist, parseVocabRange, DEFAULT_VOCAB_RANGE } from "./prompts.js";
export type { LengthDist, VocabRange, SyntheticRequest, SynthesizedRequest, PromptPlan, PieceTokenizer } from "./prompts.js";
export { loadDataset, parseDataset, sampleDataset, splitJsonArray, parseDatasetFormat, datasetFormatOf } from "./datasets.js";
export type { Dataset, DatasetEntry, DatasetFormat, DatasetPlan, DatasetSample, TokenCounter } from "./datasets.js";
export { synthesizeShareGpt, shareGptJson } from "./dataset-synth.js";
export type { ShareGptEntry, ShareGptTurn, ShareGptSynthOptions } from "./dataset-synth.js";
export { arrivalOffsets, parseRate } from "./arrivals.js";
export type { ArrivalPlan } from "./arrivals.js";
export { createRng, gamma, standardNormal, uniformInt } from "./random.js";
export type { Rng } from "./random.js";

// Streaming client and request headers
export { streamCompletion, streamChat, streamRequest, fetchModels, listModels, normalizeBaseUrl, parseEndpoint, parseRetryAfter, ENDPOINT_PATHS, SseParser } from "./client.js";
export type { ChatBody, CompletionBody, Endpoint, ModelInfo, ModelsOptions, StreamOutcome, StreamOptions, Usage } from "./client.js";
export { parseHeader, requestHeaders } from "./headers.js";

// Statistics
export { percentile, summarize, requestTimings, parseSlo, meetsSlo, cdfPoints, rebinRate, TokenTimeline } from "./stats.js";

// Server metrics
export { parsePrometheusText, scrapeMetrics, startScraper } from "./metrics-scrape.js";
export type { PromSample, MetricsScrape, Scraper } from "./metrics-scrape.js";
export { summarizeServerMetrics, counterDeltas, bucketQuantile, SERIES } from "./server-metrics.js";

// Reports
export { buildReport, serializeReport, REPORT_SCHEMA } from "./report-json.js";
export type { LoadTestReport, ReportConfig, RequestRecord, RunSummary, RunData, LatencyStats, Slo, RatePoint, GaugePoint, HistogramSummary, LayerExpertLoad, ServerMetricsReport, StageLoad } from "./report-json.js";
export { buildSweepReport, curvePoint, findKnee, loadOf, KNEE_FRACTION, SWEEP_SCHEMA } from "./report-sweep.js";
export type { CurvePoint, Percentiles, SweepReport } from "./report-sweep.js";
export { renderHtml, PLOT_COLORS } from "./report-html.js";
export { renderSweepHtml, PERCENTILE_COLORS } from "./sweep-html.js";
export { formatSummary, formatSweepSummary } from "./summary.js";
export { progressWanted, createProgress } from "./progress.js";
export type { ProgressReporter } from "./progress.js";

// Errors
export { LoadTestError, LoadTestOptionError, GatewayUnavailableError, DatasetError, WarmupFailedError, ERROR_KINDS, errorKindForStatus } from "./errors.js";
export type { ErrorKind, RequestFailure } from "./errors.js";
