/**
 * The runner (thin shell): resolves options, builds prompts (synthetic or from a dataset), warms
 * up, drives closed- or open-loop load through the streaming client, scrapes `/metrics` before,
 * during and after, and hands what it recorded to the pure {@link buildReport}. A sweep
 * (sweep.ts) prepares once and runs {@link runPoint} per load.
 */
import { setMaxListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { arrivalOffsets } from "./arrivals.js";
import { listModels, streamRequest, type ChatBody, type CompletionBody, type ModelInfo, type StreamOutcome } from "./client.js";
import { loadDataset, sampleDataset, type TokenCounter } from "./datasets.js";
import { Recorder, driveClosed, driveOpen, type Send } from "./drive.js";
import { DatasetError, WarmupFailedError } from "./errors.js";
import { startScraper } from "./metrics-scrape.js";
import { compileOptions, type Compiled, type LoadSpec, type LoadTestOptions } from "./options.js";
import { synthesizeTextPrompts, synthesizeTokenPrompts, type PieceTokenizer, type SyntheticRequest } from "./prompts.js";
import { buildReport, type LoadTestReport, type ReportConfig } from "./report-json.js";

export type { LoadTestOptions, LoadTestProgress } from "./options.js";
export { compileOptions } from "./options.js";
export { toRecord } from "./drive.js";

/** What every run of one configuration shares: the resolved model, the prompts, how to send. */
export interface Prepared {
  readonly c: Compiled;
  readonly model: string;
  readonly prompts: readonly SyntheticRequest[];
  /** Warm-up prompts (a different seed, same source). */
  readonly warmups: readonly SyntheticRequest[];
  readonly prompt: ReportConfig["prompt"];
  /** Send one request (untimed bookkeeping is the caller's). */
  readonly stream: (r: SyntheticRequest, signal?: AbortSignal) => Promise<StreamOutcome>;
}

async function tokenizerOf(file: string): Promise<PieceTokenizer> {
  const { loadTokenizer } = await import("../model/index.js");
  return loadTokenizer({ kind: "spm-file", path: file });
}

/** Prompts and warm-up prompts from the dataset or the synthesiser, and how the report describes them. */
async function promptsOf(o: LoadTestOptions, c: Compiled, info: ModelInfo | undefined, warmup: number): Promise<Pick<Prepared, "prompts" | "warmups" | "prompt">> {
  const tok = o.tokenizer ? await tokenizerOf(o.tokenizer) : undefined;
  if (c.dataset) {
    const ds = await loadDataset(c.dataset.file, c.dataset.format);
    const plan = { maxTokens: c.maxTokens, tokenizer: tok as TokenCounter | undefined, maxModelLen: info?.maxModelLen };
    const main = sampleDataset(ds, { ...plan, count: c.requests, seed: c.seed });
    const warm = warmup > 0 ? sampleDataset(ds, { ...plan, count: warmup, seed: c.seed ^ 0x5eed }).requests : [];
    if (c.endpoint === "chat") {
      const ids = main.requests.concat(warm).find((r) => typeof r.prompt !== "string");
      if (ids) throw new DatasetError(`${ds.file}: --endpoint chat needs text prompts, but entries hold token ids`, { file: ds.file, field: "prompt", fix: "use --endpoint completions for token-id prompts" });
    }
    const prompt = { kind: "dataset" as const, file: ds.file, format: ds.format, entries: ds.entries.length + ds.skipped, used: main.used, skipped: ds.skipped + main.skipped, tokenizer: o.tokenizer ?? null };
    return { prompts: main.requests, warmups: warm, prompt };
  }
  const plan = { count: c.requests, promptTokens: c.promptTokens, maxTokens: c.maxTokens, seed: c.seed };
  const make = (p: typeof plan): SyntheticRequest[] => (tok ? synthesizeTextPrompts(tok, { ...p, vocabRange: o.vocabRange }) : synthesizeTokenPrompts({ ...p, vocabRange: c.vocabRange }));
  const prompt: ReportConfig["prompt"] = o.tokenizer ? { kind: "text", tokenizer: o.tokenizer, vocabRange: o.vocabRange ?? null } : { kind: "token-ids", vocabRange: c.vocabRange };
  return { prompts: make(plan), warmups: warmup > 0 ? make({ ...plan, count: warmup, seed: c.seed ^ 0x5eed }) : [], prompt };
}

/**
 * Resolve the model (first of `/v1/models` unless given), build prompts and the request sender.
 * `warmup` overrides `o.warmup` (a sweep warms every point).
 */
export async function prepare(o: LoadTestOptions, warmup?: number): Promise<Prepared> {
  const c = compileOptions(o);
  const n = warmup ?? c.warmup;
  const models = o.model ? await listModels(c.base, { headers: c.headers }).catch(() => [] as ModelInfo[]) : await listModels(c.base, { headers: c.headers });
  const model = o.model ?? models[0]!.id;
  const { prompts, warmups, prompt } = await promptsOf(o, c, models.find((m) => m.id === model), n);
  const common = { model, temperature: o.temperature ?? 1, top_p: o.topP ?? 1, ignore_eos: o.ignoreEos ?? true };
  const seedOf = (r: SyntheticRequest): number => (Math.imul(c.seed, 1_000_003) + r.index) >>> 1;
  const body = (r: SyntheticRequest): CompletionBody | ChatBody =>
    c.endpoint === "chat"
      ? { ...common, messages: [{ role: "user", content: r.prompt as string }], max_completion_tokens: r.maxTokens, seed: seedOf(r) }
      : { ...common, prompt: r.prompt, max_tokens: r.maxTokens, seed: seedOf(r) };
  const stream = (r: SyntheticRequest, signal?: AbortSignal): Promise<StreamOutcome> => streamRequest(c.base, c.endpoint, body(r), { timeoutMs: c.timeoutMs, signal, headers: c.headers });
  return { c, model, prompts, warmups: warmups.slice(0, n), prompt, stream };
}

/** The report's description of the configuration, for one load. */
function reportConfig(o: LoadTestOptions, p: Prepared, load: LoadSpec, scrapeOn: boolean, warmup: number): ReportConfig {
  const c = p.c;
  return {
    url: c.base, model: p.model, endpoint: c.endpoint, requests: c.requests, mode: load.mode,
    concurrency: load.mode === "closed" ? load.concurrency : null,
    rate: load.mode === "open" ? (Number.isFinite(load.rate) ? load.rate : "inf") : null,
    burstiness: load.mode === "open" ? load.burstiness : null,
    maxConcurrency: load.mode === "open" ? load.maxConcurrency : null,
    promptTokens: c.promptTokens, maxTokens: c.maxTokens, seed: c.seed, prompt: p.prompt,
    auth: { apiKey: o.apiKey !== undefined && c.headers.authorization === `Bearer ${o.apiKey}`, headers: Object.keys(c.headers).sort() },
    ignoreEos: o.ignoreEos ?? true, temperature: o.temperature ?? 1, topP: o.topP ?? 1, timeoutS: c.timeoutMs / 1000, slo: o.slo ?? null,
    metricsIntervalS: scrapeOn && c.metricsIntervalS > 0 ? c.metricsIntervalS : null, warmup,
  };
}

/**
 * Warm-up: the prepared warm-up prompts, untimed, by `workers` workers back to back.
 * @throws WarmupFailedError when the gateway refuses one with a client error (not 429): every request would fail.
 */
async function warmUp(p: Prepared, workers: number, signal?: AbortSignal): Promise<void> {
  let refused: StreamOutcome | undefined;
  await driveClosed(p.warmups, workers, async (r) => {
    const out = await p.stream(r, signal);
    if (out.status === "failed" && out.failure.kind === "http_4xx") refused ??= out;
    return out;
  }, p.c.timeoutMs, signal);
  if (refused?.status === "failed") {
    const f = refused.failure;
    const fix = f.status === 401 || f.status === 403 ? "pass the gateway's key with --api-key KEY (or $OPENAI_API_KEY)" : "check --model, --endpoint and the prompt options";
    throw new WarmupFailedError(`warm-up request refused with HTTP ${f.status}: ${f.message}`, { url: p.c.base, fix });
  }
}

/**
 * A signal that follows `outer` and takes any number of listeners (every request in flight
 * listens), and its detach function.
 */
function innerSignal(outer?: AbortSignal): { signal: AbortSignal; detach(): void } {
  const ctrl = new AbortController();
  setMaxListeners(0, ctrl.signal);
  const follow = (): void => ctrl.abort();
  if (outer?.aborted) ctrl.abort();
  else outer?.addEventListener("abort", follow, { once: true });
  return { signal: ctrl.signal, detach: () => outer?.removeEventListener("abort", follow) };
}

/** Run the prepared requests at one load and report (warm-up first when `p.warmups` is non-empty). */
export async function runPoint(o: LoadTestOptions, p: Prepared, load: LoadSpec): Promise<LoadTestReport> {
  const inner = innerSignal(o.signal);
  try {
    return await runPointWith(o, p, load, inner.signal);
  } finally {
    inner.detach();
  }
}

async function runPointWith(o: LoadTestOptions, p: Prepared, load: LoadSpec, signal: AbortSignal): Promise<LoadTestReport> {
  const c = p.c;
  await warmUp(p, load.mode === "closed" ? load.concurrency : 1, signal);
  const scrapeOn = o.scrapeMetrics ?? true;
  const startedAt = new Date();
  const startMs = performance.now();
  const scraper = scrapeOn ? await startScraper(c.base, startMs, c.metricsIntervalS, c.headers) : null;
  const rec = new Recorder(startMs, p.prompts.length, o.slo ?? null, o.onProgress);
  const send: Send = async (r) => {
    rec.inFlight++;
    const out = await p.stream(r, signal);
    rec.inFlight--;
    rec.add(r, out);
    return out;
  };
  let maxLagMs: number | null = null;
  if (load.mode === "closed") await driveClosed(p.prompts, load.concurrency, send, c.timeoutMs, signal);
  else {
    const offsets = arrivalOffsets({ count: p.prompts.length, rate: load.rate, burstiness: load.burstiness, seed: c.seed });
    maxLagMs = await driveOpen(p.prompts, offsets, startMs, send, load.maxConcurrency, signal);
  }
  const endMs = rec.records.length ? rec.endMs() : performance.now();
  await scraper?.stop();

  return buildReport({
    config: reportConfig(o, p, load, scrapeOn, p.warmups.length), startedAt, durationS: Math.max(0, (endMs - startMs) / 1000),
    records: [...rec.records].sort((a, b) => a.index - b.index), itlsMs: rec.itlsMs,
    tokenBins: { binS: rec.timeline.binS, bins: rec.timeline.values() }, scrapes: scraper?.scrapes ?? [],
    metricsDisabled: scrapeOn ? undefined : "metrics scraping turned off (--no-metrics)", maxScheduleLagMs: maxLagMs,
  });
}

/** Run a load test against a gateway and return its report. Request failures are data, not exceptions. */
export async function runLoadTest(o: LoadTestOptions): Promise<LoadTestReport> {
  const p = await prepare(o);
  return runPoint(o, p, p.c.load);
}
