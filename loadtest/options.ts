/**
 * Options of a load test: what the caller gives ({@link LoadTestOptions}), validated once and
 * filled with defaults ({@link compileOptions}). Every error names the flag at fault.
 */
import { normalizeBaseUrl, type Endpoint } from "./client.js";
import { datasetFormatOf, type DatasetFormat } from "./datasets.js";
import { LoadTestOptionError } from "./errors.js";
import { requestHeaders } from "./headers.js";
import { DEFAULT_VOCAB_RANGE, parseLengthDist, type LengthDist, type VocabRange } from "./prompts.js";
import type { Slo } from "./stats.js";

/** Options of {@link runLoadTest}; everything but `url` has a default. */
export interface LoadTestOptions {
  /** Gateway base URL, e.g. `http://127.0.0.1:8000` (a trailing `/v1` is accepted). */
  readonly url: string;
  /** Model id; default: the first id of `GET /v1/models`. */
  readonly model?: string;
  /** `completions` (`/v1/completions`, default) or `chat` (`/v1/chat/completions`, one user message per request). */
  readonly endpoint?: Endpoint;
  /** Sent as `Authorization: Bearer KEY` with every request (generation, models, metrics). */
  readonly apiKey?: string;
  /** Extra headers sent with every request; they replace the key's `authorization` when they name it. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Requests in the run (default 100). */
  readonly requests?: number;
  /** Closed loop: workers sending back to back (default 4 when `rate` is not given). */
  readonly concurrency?: number;
  /** Open loop: mean arrival rate, requests/s (`Infinity`: all at once). Excludes `concurrency`. */
  readonly rate?: number;
  /** Open loop: gamma shape of inter-arrival times (default 1 = Poisson). */
  readonly burstiness?: number;
  /** Open loop: most requests in flight; an arrival beyond it waits for one to finish (vLLM's `--max-concurrency`). */
  readonly maxConcurrency?: number;
  /** Prompt length in tokens, `MEAN[:STDDEV]` or a distribution (default 256). */
  readonly promptTokens?: LengthDist | string;
  /** `max_tokens`, `MEAN[:STDDEV]` or a distribution (default 128); for a dataset, where an entry gives no length. */
  readonly maxTokens?: LengthDist | string;
  /** Seed of prompts, dataset sampling, lengths, arrivals and per-request sampling seeds (default 0). */
  readonly seed?: number;
  /** Token ids prompts are drawn from, `[lo, hi)` (default {@link DEFAULT_VOCAB_RANGE}). */
  readonly vocabRange?: VocabRange;
  /** SentencePiece `tokenizer.model`: text prompts built from its normal pieces; counts dataset tokens. */
  readonly tokenizer?: string;
  /** Replay prompts from this file instead of synthesising them. */
  readonly dataset?: string;
  /** Format of `dataset` (default: `jsonl` for `*.jsonl`, else `sharegpt`). */
  readonly datasetFormat?: DatasetFormat;
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
  /** Untimed requests before the run (default 0), by as many workers as the run's concurrency (1 for a rate). */
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

/** How load is applied in one run (one point of a sweep). */
export type LoadSpec =
  | { readonly mode: "closed"; readonly concurrency: number }
  | { readonly mode: "open"; readonly rate: number; readonly burstiness: number; readonly maxConcurrency: number | null };

/** Options after defaults and validation. */
export interface Compiled {
  readonly base: string;
  readonly endpoint: Endpoint;
  /** Headers of every request (authorization included). */
  readonly headers: Readonly<Record<string, string>>;
  readonly requests: number;
  readonly load: LoadSpec;
  readonly promptTokens: LengthDist;
  readonly maxTokens: LengthDist;
  readonly seed: number;
  readonly vocabRange: VocabRange;
  readonly dataset: { readonly file: string; readonly format: DatasetFormat } | null;
  readonly timeoutMs: number;
  readonly metricsIntervalS: number;
  readonly warmup: number;
}

/** @throws LoadTestOptionError `${field} ${message}` unless `ok`. */
export function check(ok: boolean, field: string, message: string, fix?: string): void {
  if (!ok) throw new LoadTestOptionError(`${field} ${message}`, { field, fix });
}

/** Integer ≥ `min`, or undefined. */
export const isIntAtLeast = (v: number | undefined, min: number): boolean => v === undefined || (Number.isInteger(v) && v >= min);

/** The load of one run from `concurrency` / `rate` / `burstiness` / `maxConcurrency`. */
export function compileLoad(o: Pick<LoadTestOptions, "concurrency" | "rate" | "burstiness" | "maxConcurrency">): LoadSpec {
  check(isIntAtLeast(o.concurrency, 1), "--concurrency", "must be an integer >= 1");
  check(!(o.concurrency !== undefined && o.rate !== undefined), "--concurrency", "and --rate exclude each other (closed vs open loop)", "cap an open-loop --rate with --max-concurrency");
  check(o.rate === undefined || o.rate > 0, "--rate", "must be > 0");
  check(o.burstiness === undefined || (Number.isFinite(o.burstiness) && o.burstiness > 0), "--burstiness", "must be > 0");
  check(o.burstiness === undefined || o.rate !== undefined, "--burstiness", "needs --rate");
  check(isIntAtLeast(o.maxConcurrency, 1), "--max-concurrency", "must be an integer >= 1");
  check(o.maxConcurrency === undefined || o.rate !== undefined, "--max-concurrency", "caps an open-loop --rate; with --concurrency the workers already cap requests in flight");
  if (o.rate === undefined) return { mode: "closed", concurrency: o.concurrency ?? 4 };
  return { mode: "open", rate: o.rate, burstiness: o.burstiness ?? 1, maxConcurrency: o.maxConcurrency ?? null };
}

/** Validate once, fill defaults. @throws LoadTestOptionError naming the flag. */
export function compileOptions(o: LoadTestOptions): Compiled {
  const dist = (v: LengthDist | string | undefined, def: number, field: string): LengthDist => {
    const d = typeof v === "string" ? parseLengthDist(v, field) : v ?? { mean: def, stddev: 0 };
    check(d.mean >= 1 && d.stddev >= 0, field, "needs MEAN >= 1 and STDDEV >= 0");
    return d;
  };
  check(isIntAtLeast(o.requests, 1), "--requests", "must be an integer >= 1");
  const load = compileLoad(o);
  check(o.timeoutS === undefined || o.timeoutS > 0, "--timeout", "must be > 0 seconds");
  check(o.metricsIntervalS === undefined || o.metricsIntervalS >= 0, "--metrics-interval", "must be >= 0 seconds");
  check(isIntAtLeast(o.warmup, 0), "--warmup", "must be an integer >= 0");
  check(o.endpoint === undefined || o.endpoint === "completions" || o.endpoint === "chat", "--endpoint", "must be 'completions' or 'chat'");
  check(o.datasetFormat === undefined || o.dataset !== undefined, "--dataset-format", "needs --dataset FILE");
  const endpoint = o.endpoint ?? "completions";
  check(endpoint !== "chat" || o.tokenizer !== undefined || o.dataset !== undefined, "--endpoint chat", "sends text, and synthetic text prompts need --tokenizer",
    "add --tokenizer tokenizer.model (e.g. .moe/models/grok-1-tiny/tokenizer.model) or replay text with --dataset FILE");
  const vr = o.vocabRange ?? DEFAULT_VOCAB_RANGE;
  check(Number.isInteger(vr.lo) && Number.isInteger(vr.hi) && vr.lo >= 0 && vr.hi > vr.lo, "--vocab-range", "must be LO:HI with 0 <= LO < HI");
  return {
    base: normalizeBaseUrl(o.url),
    endpoint,
    headers: requestHeaders(o.apiKey, o.headers),
    requests: o.requests ?? 100,
    load,
    promptTokens: dist(o.promptTokens, 256, "--prompt-tokens"),
    maxTokens: dist(o.maxTokens, 128, "--max-tokens"),
    seed: o.seed ?? 0,
    vocabRange: vr,
    dataset: o.dataset === undefined ? null : { file: o.dataset, format: o.datasetFormat ?? datasetFormatOf(o.dataset) },
    timeoutMs: (o.timeoutS ?? 300) * 1000,
    metricsIntervalS: o.metricsIntervalS ?? 1,
    warmup: o.warmup ?? 0,
  };
}
