/**
 * The runner (thin shell): resolves options, synthesises prompts, drives closed- or open-loop
 * load through the streaming client, scrapes `/metrics` before, during and after, and hands what
 * it recorded to the pure {@link buildReport}.
 */
import { performance } from "node:perf_hooks";
import { arrivalOffsets } from "./arrivals.js";
import { fetchModels, normalizeBaseUrl, streamCompletion, type CompletionBody, type StreamOutcome } from "./client.js";
import { LoadTestOptionError } from "./errors.js";
import { scrapeMetrics, type MetricsScrape } from "./metrics-scrape.js";
import { DEFAULT_VOCAB_RANGE, parseLengthDist, synthesizeTextPrompts, synthesizeTokenPrompts, type LengthDist, type PromptPlan, type SyntheticRequest, type VocabRange } from "./prompts.js";
import { buildReport, goodness, type LoadTestReport, type ReportConfig, type RequestRecord } from "./report-json.js";
import { TokenTimeline, requestTimings, type Slo } from "./stats.js";

/** Options of {@link runLoadTest}; everything but `url` has a default. */
export interface LoadTestOptions {
  /** Gateway base URL, e.g. `http://127.0.0.1:8000` (a trailing `/v1` is accepted). */
  readonly url: string;
  /** Model id; default: the first id of `GET /v1/models`. */
  readonly model?: string;
  /** Requests in the run (default 100). */
  readonly requests?: number;
  /** Closed loop: workers sending back to back (default 4 when `rate` is not given). */
  readonly concurrency?: number;
  /** Open loop: mean arrival rate, requests/s (`Infinity`: all at once). Excludes `concurrency`. */
  readonly rate?: number;
  /** Open loop: gamma shape of inter-arrival times (default 1 = Poisson). */
  readonly burstiness?: number;
  /** Prompt length in tokens, `MEAN[:STDDEV]` or a distribution (default 256). */
  readonly promptTokens?: LengthDist | string;
  /** `max_tokens`, `MEAN[:STDDEV]` or a distribution (default 128). */
  readonly maxTokens?: LengthDist | string;
  /** Seed of prompts, lengths, arrivals and per-request sampling seeds (default 0). */
  readonly seed?: number;
  /** Token ids prompts are drawn from, `[lo, hi)` (default {@link DEFAULT_VOCAB_RANGE}). */
  readonly vocabRange?: VocabRange;
  /** SentencePiece `tokenizer.model`: send text prompts built from its normal pieces. */
  readonly tokenizer?: string;
  /** Send `ignore_eos: true` so output lengths are exactly `max_tokens` (default true). */
  readonly ignoreEos?: boolean;
  /** Sampling temperature (default 1) and nucleus mass (default 1). */
  readonly temperature?: number;
  readonly topP?: number;
  /** Per-request limit, seconds (default 300). */
  readonly timeoutS?: number;
  /** Goodput objectives. */
  readonly slo?: Slo;
  /** Seconds between `/metrics` scrapes during the run (default 1; 0 = only before and after). */
  readonly metricsIntervalS?: number;
  /** Scrape `/metrics` at all (default true). */
  readonly scrapeMetrics?: boolean;
  /** Untimed requests sent one at a time before the run (default 0). */
  readonly warmup?: number;
  /** Stops the run: nothing new is sent, in-flight requests are cancelled, the report covers what ran. */
  readonly signal?: AbortSignal;
  /** Called after every request ends. */
  readonly onProgress?: (p: LoadTestProgress) => void;
}

/** Progress of a run, for progress bars. */
export interface LoadTestProgress {
  readonly total: number;
  /** Requests ended (completed + failed + cancelled). */
  readonly done: number;
  readonly completed: number;
  readonly failed: number;
  readonly inFlight: number;
  readonly elapsedS: number;
  readonly outputTokens: number;
}

/** Options after defaults and validation. */
interface Compiled {
  readonly base: string;
  readonly requests: number;
  readonly mode: "closed" | "open";
  readonly concurrency: number;
  readonly rate: number;
  readonly burstiness: number;
  readonly promptTokens: LengthDist;
  readonly maxTokens: LengthDist;
  readonly seed: number;
  readonly vocabRange: VocabRange;
  readonly timeoutMs: number;
  readonly metricsIntervalS: number;
}

function check(ok: boolean, field: string, message: string): void {
  if (!ok) throw new LoadTestOptionError(`${field} ${message}`, { field });
}

/** Validate once, fill defaults. @throws LoadTestOptionError naming the flag. */
export function compileOptions(o: LoadTestOptions): Compiled {
  const dist = (v: LengthDist | string | undefined, def: number, field: string): LengthDist => {
    const d = typeof v === "string" ? parseLengthDist(v, field) : v ?? { mean: def, stddev: 0 };
    check(d.mean >= 1 && d.stddev >= 0, field, "needs MEAN >= 1 and STDDEV >= 0");
    return d;
  };
  const isInt = (v: number | undefined, min: number): boolean => v === undefined || (Number.isInteger(v) && v >= min);
  check(isInt(o.requests, 1), "--requests", "must be an integer >= 1");
  check(isInt(o.concurrency, 1), "--concurrency", "must be an integer >= 1");
  check(!(o.concurrency !== undefined && o.rate !== undefined), "--concurrency", "and --rate exclude each other (closed vs open loop)");
  check(o.rate === undefined || o.rate > 0, "--rate", "must be > 0");
  check(o.burstiness === undefined || (Number.isFinite(o.burstiness) && o.burstiness > 0), "--burstiness", "must be > 0");
  check(o.burstiness === undefined || o.rate !== undefined, "--burstiness", "needs --rate");
  check(o.timeoutS === undefined || o.timeoutS > 0, "--timeout", "must be > 0 seconds");
  check(o.metricsIntervalS === undefined || o.metricsIntervalS >= 0, "--metrics-interval", "must be >= 0 seconds");
  check(isInt(o.warmup, 0), "--warmup", "must be an integer >= 0");
  const vr = o.vocabRange ?? DEFAULT_VOCAB_RANGE;
  check(Number.isInteger(vr.lo) && Number.isInteger(vr.hi) && vr.lo >= 0 && vr.hi > vr.lo, "--vocab-range", "must be LO:HI with 0 <= LO < HI");
  return {
    base: normalizeBaseUrl(o.url),
    requests: o.requests ?? 100,
    mode: o.rate !== undefined ? "open" : "closed",
    concurrency: o.concurrency ?? 4,
    rate: o.rate ?? 0,
    burstiness: o.burstiness ?? 1,
    promptTokens: dist(o.promptTokens, 256, "--prompt-tokens"),
    maxTokens: dist(o.maxTokens, 128, "--max-tokens"),
    seed: o.seed ?? 0,
    vocabRange: vr,
    timeoutMs: (o.timeoutS ?? 300) * 1000,
    metricsIntervalS: o.metricsIntervalS ?? 1,
  };
}

/** Token-id prompts, or text prompts from `--tokenizer` (the tokenizer module is loaded only then). */
async function synthesize(o: LoadTestOptions, c: Compiled, plan: PromptPlan): Promise<SyntheticRequest[]> {
  if (!o.tokenizer) return synthesizeTokenPrompts({ ...plan, vocabRange: c.vocabRange });
  const { loadTokenizer } = await import("../model/tokenizer/index.js");
  const tok = await loadTokenizer({ kind: "spm-file", path: o.tokenizer });
  return synthesizeTextPrompts(tok, { ...plan, vocabRange: o.vocabRange });
}

/** Resolves after `ms` or when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Turn one outcome into its record (times relative to `startMs`); also returns its ITLs. */
export function toRecord(req: SyntheticRequest, out: StreamOutcome, startMs: number, slo: Slo | null): { record: RequestRecord; itlsMs: number[] } {
  const base = { index: req.index, startS: (out.sendMs - startMs) / 1000, endS: (out.endMs - startMs) / 1000, promptTokens: req.promptTokens, maxTokens: req.maxTokens };
  if (out.status !== "ok") {
    const chunks = out.status === "failed" ? out.chunkTimesMs.length : 0;
    const record: RequestRecord = { ...base, status: out.status, serverPromptTokens: null, outputTokens: chunks, outputTokensSource: "chunks", chunks, ttftMs: null, tpotMs: null, meanItlMs: null, e2eMs: out.endMs - out.sendMs, good: null, error: out.status === "failed" ? out.failure : null };
    return { record, itlsMs: [] };
  }
  const fromUsage = typeof out.usage?.completion_tokens === "number";
  const outputTokens = fromUsage ? out.usage!.completion_tokens! : out.chunkTimesMs.length;
  const t = requestTimings(out.sendMs, out.chunkTimesMs, out.endMs, outputTokens);
  const meanItlMs = t.itlsMs.length ? t.itlsMs.reduce((a, b) => a + b, 0) / t.itlsMs.length : null;
  const partial = { status: "ok" as const, ttftMs: t.ttftMs ?? null, tpotMs: t.tpotMs ?? null, e2eMs: t.e2eMs };
  const record: RequestRecord = {
    ...base, ...partial,
    serverPromptTokens: typeof out.usage?.prompt_tokens === "number" ? out.usage.prompt_tokens : null,
    outputTokens, outputTokensSource: fromUsage ? "usage" : "chunks", chunks: out.chunkTimesMs.length, meanItlMs,
    good: goodness(partial, slo), error: null,
  };
  return { record, itlsMs: t.itlsMs };
}

/** Periodic `/metrics` scraping: one scrape now, then every `intervalS` until `stop()`, then one more. */
async function startScraper(base: string, startMs: number, intervalS: number): Promise<{ scrapes: MetricsScrape[]; stop(): Promise<void> }> {
  const scrapes: MetricsScrape[] = [await scrapeMetrics(base, startMs)];
  const ctrl = new AbortController();
  // A gateway without /metrics is not polled during the run; the final scrape still tries once more.
  const periodic = intervalS > 0 && scrapes[0]!.samples !== null;
  const loop = (async () => {
    while (periodic) {
      await sleep(intervalS * 1000, ctrl.signal);
      if (ctrl.signal.aborted) return;
      scrapes.push(await scrapeMetrics(base, startMs));
    }
  })();
  return {
    scrapes,
    async stop() {
      ctrl.abort();
      await loop;
      scrapes.push(await scrapeMetrics(base, startMs));
    },
  };
}

/** Collects every request's record, ITLs and tokens over time; reports progress. */
class Recorder {
  readonly records: RequestRecord[] = [];
  readonly itlsMs: number[] = [];
  readonly timeline = new TokenTimeline(0.1);
  inFlight = 0;
  private completed = 0;
  private failed = 0;
  private outputTokens = 0;
  constructor(private readonly startMs: number, private readonly total: number, private readonly slo: Slo | null, private readonly onProgress?: (p: LoadTestProgress) => void) {}

  add(req: SyntheticRequest, out: StreamOutcome): void {
    const { record, itlsMs } = toRecord(req, out, this.startMs, this.slo);
    this.records.push(record);
    if (out.status === "ok") {
      this.completed++;
      this.outputTokens += record.outputTokens;
      for (const x of itlsMs) this.itlsMs.push(x);
      // Tokens of a chunk are unknown: spread the request's output tokens evenly over its chunks.
      const per = out.chunkTimesMs.length ? record.outputTokens / out.chunkTimesMs.length : 0;
      for (const t of out.chunkTimesMs) this.timeline.add((t - this.startMs) / 1000, per);
    } else if (out.status === "failed") this.failed++;
    this.onProgress?.({ total: this.total, done: this.records.length, completed: this.completed, failed: this.failed, inFlight: this.inFlight, elapsedS: (performance.now() - this.startMs) / 1000, outputTokens: this.outputTokens });
  }

  /** Last response end, ms on the performance clock (`startMs` when nothing ran). */
  endMs(): number {
    return this.startMs + this.records.reduce((a, r) => Math.max(a, r.endS), 0) * 1000;
  }
}

type Send = (r: SyntheticRequest) => Promise<StreamOutcome>;

/** Closed loop: `concurrency` workers send back to back; after a 429/503 a worker honours Retry-After. */
async function driveClosed(prompts: readonly SyntheticRequest[], concurrency: number, send: Send, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!signal?.aborted && next < prompts.length) {
      const out = await send(prompts[next++]!);
      const ra = out.status === "failed" ? out.failure.retryAfterS : undefined;
      if (ra !== undefined) await sleep(Math.min(ra * 1000, timeoutMs), signal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, prompts.length) }, worker));
}

/** Open loop: send request i at `offsets[i]` seconds after `startMs` whatever the server does; returns the worst lateness (ms). */
async function driveOpen(prompts: readonly SyntheticRequest[], offsets: readonly number[], startMs: number, send: Send, signal?: AbortSignal): Promise<number> {
  const pending: Array<Promise<unknown>> = [];
  let maxLagMs = 0;
  for (let i = 0; i < prompts.length && !signal?.aborted; i++) {
    const target = startMs + offsets[i]! * 1000;
    await sleep(target - performance.now(), signal);
    if (signal?.aborted) break;
    maxLagMs = Math.max(maxLagMs, performance.now() - target);
    pending.push(send(prompts[i]!));
  }
  await Promise.all(pending);
  return maxLagMs;
}

function reportConfig(o: LoadTestOptions, c: Compiled, model: string, scrapeOn: boolean): ReportConfig {
  return {
    url: c.base, model, requests: c.requests, mode: c.mode,
    concurrency: c.mode === "closed" ? c.concurrency : null,
    rate: c.mode === "open" ? (Number.isFinite(c.rate) ? c.rate : "inf") : null,
    burstiness: c.mode === "open" ? c.burstiness : null,
    promptTokens: c.promptTokens, maxTokens: c.maxTokens, seed: c.seed,
    prompt: o.tokenizer ? { kind: "text", tokenizer: o.tokenizer, vocabRange: o.vocabRange ?? null } : { kind: "token-ids", vocabRange: c.vocabRange },
    ignoreEos: o.ignoreEos ?? true, temperature: o.temperature ?? 1, topP: o.topP ?? 1, timeoutS: c.timeoutMs / 1000, slo: o.slo ?? null,
    metricsIntervalS: scrapeOn && c.metricsIntervalS > 0 ? c.metricsIntervalS : null, warmup: o.warmup ?? 0,
  };
}

/** Run a load test against a gateway and return its report. Request failures are data, not exceptions. */
export async function runLoadTest(o: LoadTestOptions): Promise<LoadTestReport> {
  const c = compileOptions(o);
  const model = o.model ?? (await fetchModels(c.base))[0]!;
  const plan: PromptPlan = { count: c.requests, promptTokens: c.promptTokens, maxTokens: c.maxTokens, seed: c.seed };
  const prompts = await synthesize(o, c, plan);
  const body = (r: SyntheticRequest): CompletionBody => ({
    model, prompt: r.prompt, max_tokens: r.maxTokens, temperature: o.temperature ?? 1, top_p: o.topP ?? 1,
    seed: (Math.imul(c.seed, 1_000_003) + r.index) >>> 1, ignore_eos: o.ignoreEos ?? true,
  });
  const stream = (r: SyntheticRequest): Promise<StreamOutcome> => streamCompletion(c.base, body(r), { timeoutMs: c.timeoutMs, signal: o.signal });
  if (o.warmup) for (const r of await synthesize(o, c, { ...plan, count: o.warmup, seed: c.seed ^ 0x5eed })) if (!o.signal?.aborted) await stream(r);

  const scrapeOn = o.scrapeMetrics ?? true;
  const startedAt = new Date();
  const startMs = performance.now();
  const scraper = scrapeOn ? await startScraper(c.base, startMs, c.metricsIntervalS) : null;
  const rec = new Recorder(startMs, c.requests, o.slo ?? null, o.onProgress);
  const send: Send = async (r) => {
    rec.inFlight++;
    const out = await stream(r);
    rec.inFlight--;
    rec.add(r, out);
    return out;
  };
  let maxLagMs: number | null = null;
  if (c.mode === "closed") await driveClosed(prompts, c.concurrency, send, c.timeoutMs, o.signal);
  else maxLagMs = await driveOpen(prompts, arrivalOffsets({ count: prompts.length, rate: c.rate, burstiness: c.burstiness, seed: c.seed }), startMs, send, o.signal);
  const endMs = rec.records.length ? rec.endMs() : performance.now();
  await scraper?.stop();

  return buildReport({
    config: reportConfig(o, c, model, scrapeOn), startedAt, durationS: Math.max(0, (endMs - startMs) / 1000),
    records: [...rec.records].sort((a, b) => a.index - b.index), itlsMs: rec.itlsMs,
    tokenBins: { binS: rec.timeline.binS, bins: rec.timeline.values() }, scrapes: scraper?.scrapes ?? [],
    metricsDisabled: scrapeOn ? undefined : "metrics scraping turned off (--no-metrics)", maxScheduleLagMs: maxLagMs,
  });
}
