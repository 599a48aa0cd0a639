/**
 * Driving load (thin shell over timers and the client): the closed loop (C workers back to back),
 * the open loop (sends on a schedule, optionally capped in flight), and the recorder that turns
 * each outcome into a {@link RequestRecord} as it ends.
 */
import { performance } from "node:perf_hooks";
import type { StreamOutcome } from "./client.js";
import type { LoadTestProgress } from "./options.js";
import type { SyntheticRequest } from "./prompts.js";
import { goodness, type RequestRecord } from "./report-json.js";
import { TokenTimeline, requestTimings, type Slo } from "./stats.js";

/** Resolves after `ms` or when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
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

/** Collects every request's record, ITLs and tokens over time; reports progress. */
export class Recorder {
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

/** Sends one request and resolves with its outcome. */
export type Send = (r: SyntheticRequest) => Promise<StreamOutcome>;

/** Closed loop: `concurrency` workers send back to back; after a 429/503 a worker honours Retry-After. */
export async function driveClosed(prompts: readonly SyntheticRequest[], concurrency: number, send: Send, timeoutMs: number, signal?: AbortSignal): Promise<void> {
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

/** A counting semaphore whose waiters are released in arrival order (or all at once on abort). */
class Slots {
  private free: number;
  private readonly waiters: Array<() => void> = [];
  constructor(n: number, signal?: AbortSignal) {
    this.free = n;
    signal?.addEventListener("abort", () => this.waiters.splice(0).forEach((w) => w()), { once: true });
  }
  /** Resolves when a slot is taken, or at once when `signal` has aborted (check it after). */
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.free > 0 || signal?.aborted) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(() => ((this.free--), resolve())));
  }
  release(): void {
    this.free++;
    if (this.free > 0) this.waiters.shift()?.();
  }
}

/**
 * Open loop: request i is due at `offsets[i]` seconds after `startMs` whatever the server does;
 * with `maxInFlight`, a due request waits (in order) until fewer than that many are in flight,
 * and its latencies count from when it is sent. Returns the worst lateness of the schedule's
 * timers, ms (client saturation, not the cap's waiting).
 */
export async function driveOpen(prompts: readonly SyntheticRequest[], offsets: readonly number[], startMs: number, send: Send, maxInFlight: number | null, signal?: AbortSignal): Promise<number> {
  const pending: Array<Promise<unknown>> = [];
  const slots = maxInFlight === null ? null : new Slots(maxInFlight, signal);
  let maxLagMs = 0;
  for (let i = 0; i < prompts.length && !signal?.aborted; i++) {
    const target = startMs + offsets[i]! * 1000;
    await sleep(target - performance.now(), signal);
    if (signal?.aborted) break;
    maxLagMs = Math.max(maxLagMs, performance.now() - target);
    const p = prompts[i]!;
    if (!slots) pending.push(send(p));
    else
      pending.push(
        slots.acquire(signal).then(async () => {
          try {
            if (!signal?.aborted) await send(p);
          } finally {
            slots.release();
          }
        }),
      );
  }
  await Promise.all(pending);
  return maxLagMs;
}
