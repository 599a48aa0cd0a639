/**
 * Start-up warm-up: before the gateway accepts traffic it drives synthetic
 * greedy requests through its own scheduler and backend — the real pipeline,
 * every stage, router and expert host — so that the processes' first passes
 * (V8 compiling the codec, routing and scheduling paths; onnxruntime's first
 * runs at each batch shape; fresh buffers faulted in) are not paid by the
 * first clients. A fresh local cluster otherwise serves its first ~10–15
 * decode passes at 0.7–0.8 of its steady rate (README, "Start-up warm-up").
 *
 * One pass = `sequences` requests submitted at once (the scheduler spreads
 * them over its micro-batches exactly as it would spread clients), each a
 * `promptTokens`-token prompt then `newTokens` greedy tokens (EOS ignored).
 * Every sequence ends normally and the scheduler's releases are awaited
 * after each pass, so no KV cache is left behind; the ids come from the scheduler, so they never collide with
 * clients' sequences.
 */
import type { ModelConfig } from "../model/index.js";
import { WarmupError } from "./errors.js";
import type { Scheduler } from "./scheduler.js";

/** What the warm-up runs. */
export interface WarmupOptions {
  /** Passes to run; 0 disables the warm-up. */
  readonly passes: number;
  /** Requests per pass (default: 16 per micro-batch the backend keeps in flight, at most `maxRunningSequences`). */
  readonly sequences?: number;
  /** Prompt tokens per request (default 16). */
  readonly promptTokens?: number;
  /** Generated tokens per request (default 32). */
  readonly newTokens?: number;
  /**
   * Start no further pass once this many seconds have passed (default {@link DEFAULT_WARMUP_MAX_SECONDS}; the first
   * pass always runs): on a large model a pass is compute, not warm-up, and start-up must stay bounded.
   */
  readonly maxSeconds?: number;
}

/** Default time budget of the warm-up, seconds (8 passes of the tiny local cluster take 11–17 s on 2 cores). */
export const DEFAULT_WARMUP_MAX_SECONDS = 30;

/** What a finished warm-up did. */
export interface WarmupReport {
  /** Passes run: the asked number, or fewer when the time budget ran out. */
  readonly passes: number;
  readonly sequences: number;
  /** Prompt tokens prefilled, all passes. */
  readonly promptTokens: number;
  /** Tokens generated, all passes. */
  readonly generatedTokens: number;
  /** Wall time, seconds. */
  readonly seconds: number;
}

/** Sequences per micro-batch in a warm-up pass. */
const ROWS_PER_MICRO_BATCH = 16;

/** A deterministic synthetic prompt (BOS, then ids spread over the vocabulary) for sequence `k` of pass `pass`. */
export function warmupPrompt(cfg: Pick<ModelConfig, "bosId" | "vocabSize">, length: number, pass: number, k: number): number[] {
  const span = Math.max(1, cfg.vocabSize - 1);
  return [cfg.bosId, ...Array.from({ length: Math.max(0, length - 1) }, (_, i) => 1 + ((pass * 7919 + k * 131 + i * 17) % span))];
}

/** The number of requests per pass for a scheduler's limits and backend depth. */
export function warmupSequences(maxRunningSequences: number, maxInFlight: number): number {
  return Math.max(1, Math.min(maxRunningSequences, ROWS_PER_MICRO_BATCH * Math.max(1, maxInFlight)));
}

/**
 * Run the warm-up through `scheduler` (nothing else submits meanwhile). `onPass` hears each finished pass.
 * @throws WarmupError at the first request that fails, naming the pass and the backend's error
 */
export async function runWarmup(
  scheduler: Scheduler,
  cfg: Pick<ModelConfig, "bosId" | "vocabSize" | "contextLength">,
  maxRunningSequences: number,
  maxInFlight: number,
  o: WarmupOptions,
  onPass?: (pass: number, seconds: number) => void,
): Promise<WarmupReport> {
  const sequences = o.sequences ?? warmupSequences(maxRunningSequences, maxInFlight);
  const promptTokens = Math.max(1, Math.min(o.promptTokens ?? 16, cfg.contextLength - 1));
  const newTokens = Math.max(1, Math.min(o.newTokens ?? 32, cfg.contextLength - promptTokens));
  const t0 = performance.now();
  const maxSeconds = o.maxSeconds ?? DEFAULT_WARMUP_MAX_SECONDS;
  let generated = 0;
  let pass = 0;
  for (; pass < o.passes; pass++) {
    const p0 = performance.now();
    if (pass > 0 && (p0 - t0) / 1000 >= maxSeconds) break;
    const ends = Array.from({ length: sequences }, (_, k) =>
      new Promise<void>((resolve, reject) => {
        try {
          scheduler.submit(
            { promptIds: warmupPrompt(cfg, promptTokens, pass, k), maxTokens: newTokens, sampling: { temperature: 0, topP: 1 }, ignoreEos: true },
            {
              onToken: () => void generated++,
              onFinish: () => resolve(),
              onError: (e) => reject(e),
            },
          );
        } catch (e) {
          reject(e);
        }
      }),
    );
    const results = await Promise.allSettled(ends);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      const why = failed.reason instanceof Error ? failed.reason.message : String(failed.reason);
      throw new WarmupError(`warm-up pass ${pass + 1} of ${o.passes} failed: ${why}`, { cause: failed.reason });
    }
    // every sequence finished: its KV cache is released (answered by every stage) before the next pass
    await scheduler.drain();
    onPass?.(pass + 1, (performance.now() - p0) / 1000);
  }
  return { passes: pass, sequences, promptTokens: pass * sequences * promptTokens, generatedTokens: generated, seconds: (performance.now() - t0) / 1000 };
}
