// gateway: the OpenAI-compatible HTTP API and the continuous-batching scheduler over a StepBackend.
import type { AddressInfo } from "node:net";
import { pino, type Logger } from "pino";
import { z } from "zod";
import type { ModelConfig, Tokenizer, TokenizerSource } from "../model/index.js";
import type { StepBackend } from "../stages/index.js";
import { GatewayMetrics, type HostStatus } from "./metrics.js";
import { DEFAULT_LIMITS, MIN_BATCH_TOKENS, type SchedulerLimits } from "./policy.js";
import { Scheduler, type SchedulerObserver } from "./scheduler.js";
import { createGatewayServer } from "./server.js";
import { TokenizePool } from "./tokenize-pool.js";
import { runWarmup, type WarmupOptions, type WarmupReport } from "./warmup.js";

export {
  AuthenticationError,
  BackendError,
  GatewayError,
  InvalidRequestError,
  NotFoundError,
  QueueFullError,
  UnavailableError,
  WarmupError,
  asGatewayError,
  type GatewayErrorContext,
  type OpenAiErrorType,
} from "./errors.js";
export { DEFAULT_LIMITS, MIN_BATCH_TOKENS, admitCount, planMicroBatch, prefillReserve, type SchedulerLimits, type ReadySeq, type PlannedItem, type PlanInput } from "./policy.js";
export { Scheduler, type FinishReason, type GenerationRequest, type SequenceSink, type SequenceHandle, type SchedulerObserver, type SchedulerOptions } from "./scheduler.js";
export { GatewayMetrics, METRIC_NAMES, LOCAL_HOST, type HostStatus, type MetricsSources } from "./metrics.js";
export { StopMatcher } from "./stop.js";
export { clipMaxTokens, renderChat } from "./prompt.js";
export { TokenizePool } from "./tokenize-pool.js";
export { DEFAULT_WARMUP_MAX_SECONDS, runWarmup, warmupPrompt, warmupSequences, type WarmupOptions, type WarmupReport } from "./warmup.js";

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  /** What runs the model: a LocalBackend or a cluster client. Not closed by the gateway. */
  readonly backend: StepBackend;
  readonly tokenizer: Tokenizer;
  /**
   * Where the tokenizer came from: prompt texts are then tokenised in worker threads that load it,
   * off the event loop. Without it texts are tokenised inline.
   */
  readonly tokenizerSource?: TokenizerSource;
  /** Tokenizer worker threads (default 1; 0 = tokenise inline). */
  readonly tokenizerThreads?: number;
  /** Longest prompt text accepted, UTF-8 bytes, checked before tokenising (default max(64 KiB, 32 × context length)). */
  readonly maxPromptBytes?: number;
  readonly config: ModelConfig;
  /** The id clients send as `model` (and `/v1/models` lists). */
  readonly modelName: string;
  /** Address to bind; default 127.0.0.1 (loopback only). */
  readonly host?: string;
  /** TCP port; 0 = ephemeral; default 8000. */
  readonly port?: number;
  /** When set, every endpoint but `/health` needs `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /** Scheduler limits; missing fields take {@link DEFAULT_LIMITS}. See {@link limitsFromPlan}. */
  readonly limits?: Partial<SchedulerLimits>;
  /** Tokens routed per (layer, expert) so far: counts[layer][expert] (LocalBackend: `engine.moe.counts`). */
  readonly expertLoad?: () => number[][];
  /** Cluster hosts and their health (the cluster client); without it `/health` reports one local host. */
  readonly clusterStatus?: () => readonly HostStatus[] | Promise<readonly HostStatus[]>;
  /** Sequences reclaimed after sitting idle, for `moe_reclaimed_sequences_total` (a cluster: as its stages report). */
  readonly reclaimedSequences?: () => number;
  /** Live backend sequences for `moe_kv_sequences`; default: the backend's `liveSequences` if it has one, else the scheduler's count. */
  readonly kvSequences?: () => number;
  /** Seconds suggested in `Retry-After` when the queue is full (default 1). */
  readonly retryAfterS?: number;
  /**
   * Start-up warm-up (gateway/warmup.ts): synthetic greedy passes through the scheduler and backend before
   * the port listens; absent or `passes: 0`: none. Its tokens are counted in `moe_warmup_*`, not with clients'.
   * A failed pass rejects {@link startGateway} with a {@link WarmupError}.
   */
  readonly warmup?: WarmupOptions;
  /** Hears each finished warm-up pass (1-based) and its wall seconds. */
  readonly onWarmupPass?: (pass: number, seconds: number) => void;
  /** pino logger (a child `{component: "gateway"}` is used); default silent. */
  readonly logger?: Logger;
}

/** A running gateway. */
export interface Gateway {
  /** Base URL, e.g. `http://127.0.0.1:8000` (no trailing slash, no `/v1`). */
  readonly url: string;
  readonly port: number;
  readonly scheduler: Scheduler;
  readonly metrics: GatewayMetrics;
  /** Prompt tokenisation (worker threads when the tokenizer source was given). */
  readonly encoder: TokenizePool;
  /** What the start-up warm-up did (absent when none ran). */
  readonly warmup?: WarmupReport;
  /** Stop accepting, fail queued and running requests with 503, wait for in-flight steps, close the server. Idempotent. */
  close(): Promise<void>;
}

const limitsSchema = z
  .object({
    maxRunningSequences: z.number().int().min(1),
    maxQueued: z.number().int().min(0),
    maxBatchTokens: z.number().int().min(MIN_BATCH_TOKENS),
  })
  .strict();

/** Validate limits (defaults filled in); throws a RangeError naming the field. */
export function resolveLimits(partial: Partial<SchedulerLimits> = {}): SchedulerLimits {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const r = limitsSchema.safeParse({ ...DEFAULT_LIMITS, ...defined });
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new RangeError(`gateway limits: field '${i.path.join(".")}': ${i.message}`);
  }
  return Object.freeze(r.data);
}

/**
 * Scheduler limits from a plan (`plan.json`): at most `predicted.maxConcurrentSequences`
 * running (what the KV cache holds), and `queueFactor` times that waiting.
 */
export function limitsFromPlan(plan: { readonly predicted: { readonly maxConcurrentSequences: number } }, queueFactor = 4): Partial<SchedulerLimits> {
  const running = Math.max(1, Math.floor(plan.predicted.maxConcurrentSequences));
  return { maxRunningSequences: running, maxQueued: running * queueFactor };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Start the HTTP gateway over a backend; resolves once it listens. */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const limits = resolveLimits(opts.limits);
  const logger = (opts.logger ?? pino({ level: "silent" })).child({ component: "gateway" });
  const backendLive = (opts.backend as { liveSequences?: unknown }).liveSequences;
  let scheduler: Scheduler;
  const metrics = new GatewayMetrics({
    queueDepth: () => scheduler.queueDepth,
    runningSequences: () => scheduler.runningSequences,
    kvSequences: opts.kvSequences ?? (typeof backendLive === "number" ? () => (opts.backend as unknown as { liveSequences: number }).liveSequences : () => scheduler.kvSequences),
    inFlightSteps: () => scheduler.inFlightSteps,
    ...(opts.reclaimedSequences ? { reclaimedSequences: opts.reclaimedSequences } : {}),
    expertLoad: opts.expertLoad,
    clusterStatus: opts.clusterStatus,
  });
  // the warm-up's steps and tokens stay out of the clients' series (moe_warmup_* count them)
  let warming = (opts.warmup?.passes ?? 0) > 0;
  const observer: SchedulerObserver = {
    firstToken: (s) => void (warming || metrics.firstToken(s)),
    interToken: (s) => void (warming || metrics.interToken(s)),
    generated: (n) => void (warming || metrics.generated(n)),
    prefilled: (n) => void (warming || metrics.prefilled(n)),
    step: (s) => void (warming || metrics.step(s)),
    stepError: () => metrics.stepError(),
  };
  scheduler = new Scheduler({ backend: opts.backend, limits, contextLength: opts.config.contextLength, eosId: opts.config.eosId, logger, observer, retryAfterS: opts.retryAfterS });
  let warmup: WarmupReport | undefined;
  if (warming) {
    logger.info({ passes: opts.warmup!.passes }, "warming up");
    try {
      warmup = await runWarmup(scheduler, opts.config, limits.maxRunningSequences, opts.backend.maxInFlight, opts.warmup!, opts.onWarmupPass);
    } catch (e) {
      await scheduler.close();
      throw e;
    }
    warming = false;
    metrics.warmup(warmup.passes, warmup.generatedTokens, warmup.seconds);
    logger.info({ ...warmup }, "warmed up");
  }
  const encoder = new TokenizePool(opts.tokenizer, opts.tokenizerSource, opts.tokenizerThreads ?? 1, logger);
  const maxPromptBytes = opts.maxPromptBytes ?? Math.max(64 * 1024, 32 * opts.config.contextLength);
  const server = createGatewayServer({
    scheduler,
    metrics,
    tokenizer: opts.tokenizer,
    encoder,
    maxPromptBytes,
    config: opts.config,
    modelName: opts.modelName,
    logger,
    apiKey: opts.apiKey,
    startedAt: Math.floor(Date.now() / 1000),
  });
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => void encoder.close().finally(() => reject(e)));
    server.listen(opts.port ?? 8000, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  logger.info({ url, limits, maxInFlight: opts.backend.maxInFlight }, "gateway listening");
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await scheduler.close();
      // let the final responses flush, then cut whatever is left
      const deadline = Date.now() + 1000;
      while (Date.now() < deadline && (await Promise.race([stopped.then(() => true), sleep(25).then(() => false)])) === false) server.closeIdleConnections();
      server.closeAllConnections();
      await stopped;
      await encoder.close();
      logger.info("gateway closed");
    })());
  return { url, port, scheduler, metrics, encoder, close, ...(warmup ? { warmup } : {}) };
}
