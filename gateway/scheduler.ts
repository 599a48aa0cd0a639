/**
 * Continuous-batching scheduler over a {@link StepBackend}: a bounded waiting
 * queue, a bounded running set, and up to `backend.maxInFlight` micro-batches
 * in flight. What goes into each micro-batch is decided by the pure
 * {@link planMicroBatch}; this class only keeps state, calls the backend and
 * reports tokens to each request's {@link SequenceSink}.
 *
 * New requests join between steps; a finished, failed or cancelled sequence
 * leaves at once and its KV cache is released (`backend.release`) as soon as
 * it is in no in-flight step.
 */
import type { Logger } from "pino";
import type { SamplingParams, TopLogprob } from "../model/index.js";
import type { StepBackend, StepItem, StepResult } from "../stages/index.js";
import { BackendError, GatewayError, InvalidRequestError, QueueFullError, UnavailableError, asGatewayError } from "./errors.js";
import { admitCount, planMicroBatch, prefillReserve, type PlannedItem, type ReadySeq, type SchedulerLimits } from "./policy.js";

/** Why a sequence ended (OpenAI's finish_reason). */
export type FinishReason = "stop" | "length";

/** What one request asks the scheduler to generate. */
export interface GenerationRequest {
  /** Prompt token ids, 1..contextLength of them, used as given. */
  readonly promptIds: readonly number[];
  /** Most new tokens (≥ 1). */
  readonly maxTokens: number;
  readonly sampling: SamplingParams;
  /** Keep going after EOS (vLLM's `ignore_eos`); EOS is then emitted like any token. */
  readonly ignoreEos?: boolean;
}

/** Receives one sequence's output. No callback follows `cancel()`, `onFinish` or `onError`. */
export interface SequenceSink {
  /** A sampled token (never an EOS that ends the sequence). Return false to finish now with "stop" (a stop string matched). */
  onToken(token: number, logprob: number, top?: readonly TopLogprob[]): boolean | void;
  onFinish(reason: FinishReason): void;
  onError(err: GatewayError): void;
}

/** A submitted request. */
export interface SequenceHandle {
  /** Backend sequence id (uint32). */
  readonly id: number;
  /** Drop the sequence (client went away): no more callbacks; its KV cache is released within one step. */
  cancel(): void;
}

/** Timing and counting hooks (metrics); times in seconds. */
export interface SchedulerObserver {
  /** Request arrival → first sampled token. */
  firstToken?(seconds: number): void;
  /** Gap between two consecutive tokens of one sequence. */
  interToken?(seconds: number): void;
  generated?(tokens: number): void;
  /** Prompt tokens prefilled. */
  prefilled?(tokens: number): void;
  /** A backend step finished (successfully or not) after `seconds`. */
  step?(seconds: number): void;
  /** A backend step failed. */
  stepError?(err: unknown): void;
}

export interface SchedulerOptions {
  readonly backend: StepBackend;
  readonly limits: SchedulerLimits;
  /** Most tokens a sequence may hold (model context length). */
  readonly contextLength: number;
  readonly eosId: number;
  readonly logger: Logger;
  readonly observer?: SchedulerObserver;
  /** Seconds to suggest in `Retry-After` when the queue is full. */
  readonly retryAfterS?: number;
}

/** Scheduler-side state of one sequence. */
interface Seq {
  readonly id: number;
  readonly req: GenerationRequest;
  readonly sink: SequenceSink;
  readonly arrival: number;
  /** Arrival time, seconds. */
  readonly submittedAt: number;
  /** Prompt tokens sent to the backend and processed. */
  sent: number;
  /** Tokens cached by the backend (= position of the next token). */
  pos: number;
  /** Token to feed in the next decode step. */
  next: number;
  generated: number;
  lastStep: number;
  lastTokenAt: number;
  inFlight: boolean;
  /** Prompt chunk length of the in-flight step (0 for a decode). */
  chunk: number;
  /** The backend has seen this sequence (holds a KV cache until released). */
  started: boolean;
  /** Ended (finished, failed or cancelled): drop any result still in flight. */
  gone: boolean;
}

const now = (): number => performance.now() / 1000;


export class Scheduler {
  private readonly waiting: Seq[] = [];
  private readonly running = new Map<number, Seq>();
  private readonly live = new Set<number>();
  private readonly steps = new Set<Promise<void>>();
  private readonly releases = new Set<Promise<void>>();
  private pendingRelease: number[] = [];
  private inFlight = 0;
  private stepCounter = 0;
  private arrivals = 0;
  private nextId = 1;
  private closing = false;

  constructor(private readonly opts: SchedulerOptions) {}

  /** Requests waiting for admission. */
  get queueDepth(): number {
    return this.waiting.length;
  }

  /** Sequences admitted and not yet ended. */
  get runningSequences(): number {
    return this.running.size;
  }

  /** Sequences the backend holds a KV cache for (sent a step, release not yet done). */
  get kvSequences(): number {
    return this.live.size;
  }

  /** Micro-batches in flight. */
  get inFlightSteps(): number {
    return this.inFlight;
  }

  /**
   * Queue a request. Throws {@link QueueFullError} (429) when `maxRunningSequences + maxQueued`
   * requests are already in, {@link UnavailableError} (503) while closing.
   */
  submit(req: GenerationRequest, sink: SequenceSink): SequenceHandle {
    const { limits, contextLength } = this.opts;
    if (this.closing) throw new UnavailableError("the server is shutting down");
    if (req.promptIds.length === 0) throw new InvalidRequestError("the prompt is empty", "empty_prompt", { param: "prompt" });
    if (req.promptIds.length > contextLength)
      throw new InvalidRequestError(`the prompt has ${req.promptIds.length} tokens, more than the context length ${contextLength}`, "context_length_exceeded", { param: "prompt" });
    if (this.running.size + this.waiting.length >= limits.maxRunningSequences + limits.maxQueued)
      throw new QueueFullError(limits.maxQueued, this.opts.retryAfterS ?? 1);
    const seq: Seq = {
      id: this.allocId(),
      req,
      sink,
      arrival: this.arrivals++,
      submittedAt: now(),
      sent: 0,
      pos: 0,
      next: -1,
      generated: 0,
      lastStep: -1,
      lastTokenAt: 0,
      inFlight: false,
      chunk: 0,
      started: false,
      gone: false,
    };
    this.waiting.push(seq);
    this.pump();
    return { id: seq.id, cancel: () => this.cancel(seq) };
  }

  /**
   * Stop: refuse new requests, fail waiting and running ones with 503, wait for
   * in-flight steps and releases. Does not close the backend.
   */
  async close(): Promise<void> {
    this.closing = true;
    const err = new UnavailableError("the server is shutting down");
    for (const s of this.waiting.splice(0)) this.end(s, () => s.sink.onError(err));
    for (const s of [...this.running.values()]) if (!s.inFlight) this.end(s, () => s.sink.onError(err));
    await this.drain();
  }

  /** Resolves once no step is in flight and every queued release has been answered (nothing submitted meanwhile). */
  async drain(): Promise<void> {
    while (this.steps.size > 0) await Promise.allSettled([...this.steps]);
    this.flushReleases();
    await Promise.allSettled([...this.releases]);
  }

  private allocId(): number {
    do this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    while (this.running.has(this.nextId) || this.live.has(this.nextId) || this.waiting.some((s) => s.id === this.nextId));
    return this.nextId;
  }

  private cancel(s: Seq): void {
    if (s.gone) return;
    const i = this.waiting.indexOf(s);
    if (i >= 0) this.waiting.splice(i, 1);
    this.end(s);
    this.pump();
  }

  /** Remove a sequence from the scheduler (callbacks after `gone` is set), queue its release when no step holds it. */
  private end(s: Seq, notify?: () => void): void {
    if (s.gone) return;
    s.gone = true;
    this.running.delete(s.id);
    if (s.started && !s.inFlight) this.pendingRelease.push(s.id);
    if (notify) {
      try {
        notify();
      } catch (err) {
        this.opts.logger.warn({ err, seq: s.id }, "sequence sink threw");
      }
    }
  }

  /** Admit, release, and launch micro-batches until the pipeline is full or nothing is ready. */
  private pump(): void {
    const { limits, backend } = this.opts;
    if (!this.closing) {
      const n = admitCount(this.running.size, this.waiting.length, limits.maxRunningSequences);
      for (const s of this.waiting.splice(0, n)) this.running.set(s.id, s);
    }
    this.flushReleases();
    while (!this.closing && this.inFlight < backend.maxInFlight) {
      const ready: ReadySeq[] = [];
      let decoding = 0;
      for (const s of this.running.values()) {
        const promptLeft = s.req.promptIds.length - s.sent;
        if (promptLeft === 0) decoding++;
        if (!s.inFlight) ready.push({ id: s.id, promptLeft, arrival: s.arrival, lastStep: s.lastStep });
      }
      const plan = planMicroBatch({ ready, decoding, inFlight: this.inFlight, maxInFlight: backend.maxInFlight, maxBatchTokens: limits.maxBatchTokens });
      if (plan.length === 0) break;
      this.launch(plan);
    }
  }

  private flushReleases(): void {
    if (this.pendingRelease.length === 0) return;
    const ids = this.pendingRelease;
    this.pendingRelease = [];
    const p: Promise<void> = new Promise<void>((resolve) => resolve(this.opts.backend.release(ids)))
      .catch((err: unknown) => this.opts.logger.warn({ err, seqs: ids }, "backend release failed"))
      .finally(() => {
        for (const id of ids) this.live.delete(id);
        this.releases.delete(p);
      });
    this.releases.add(p);
  }

  private launch(plan: readonly PlannedItem[]): void {
    const step = ++this.stepCounter;
    const batch: Seq[] = [];
    const items: StepItem[] = plan.map((p) => {
      const s = this.running.get(p.id)!;
      batch.push(s);
      s.inFlight = true;
      s.lastStep = step;
      s.started = true;
      this.live.add(s.id);
      if (p.kind === "decode") {
        s.chunk = 0;
        return { seq: s.id, pos: s.pos, tokens: [s.next] };
      }
      s.chunk = p.tokens;
      const tokens = s.req.promptIds.slice(s.sent, s.sent + p.tokens);
      // an inner chunk samples nothing: no token, no draw from the seeded stream
      const last = s.sent + p.tokens === s.req.promptIds.length;
      return { seq: s.id, pos: s.pos, tokens, prompt: true, sample: last, ...(s.sent === 0 ? { sampling: s.req.sampling } : {}) };
    });
    this.inFlight++;
    const t0 = now();
    const done: Promise<void> = new Promise<StepResult[]>((resolve) => resolve(this.opts.backend.step(items)))
      .finally(() => this.opts.observer?.step?.(now() - t0))
      .then(
        (results) => this.complete(batch, results),
        (err: unknown) => this.failStep(batch, err),
      )
      .catch((err: unknown) => this.opts.logger.error({ err }, "scheduler bookkeeping failed"))
      .finally(() => {
        this.inFlight--;
        this.steps.delete(done);
        this.pump();
      });
    this.steps.add(done);
  }

  private complete(batch: readonly Seq[], results: readonly StepResult[]): void {
    const byId = new Map(results.map((r) => [r.seq, r]));
    for (const s of batch) {
      s.inFlight = false;
      s.pos += s.chunk > 0 ? s.chunk : 1;
      if (s.chunk > 0) {
        s.sent += s.chunk;
        this.opts.observer?.prefilled?.(s.chunk);
      }
      if (s.gone) {
        this.pendingRelease.push(s.id);
        continue;
      }
      if (this.closing) {
        this.end(s, () => s.sink.onError(new UnavailableError("the server is shutting down")));
        continue;
      }
      if (s.sent < s.req.promptIds.length) continue; // an inner prompt chunk: it sampled nothing
      const r = byId.get(s.id);
      if (!r) {
        this.end(s, () => s.sink.onError(new BackendError(`the backend returned no token for sequence ${s.id}`)));
        continue;
      }
      this.onToken(s, r);
    }
  }

  private onToken(s: Seq, r: StepResult): void {
    const t = now();
    if (s.generated === 0) this.opts.observer?.firstToken?.(t - s.submittedAt);
    else this.opts.observer?.interToken?.(t - s.lastTokenAt);
    s.lastTokenAt = t;
    if (r.token === this.opts.eosId && !s.req.ignoreEos) return this.end(s, () => s.sink.onFinish("stop"));
    s.generated++;
    this.opts.observer?.generated?.(1);
    let more: boolean;
    try {
      more = s.sink.onToken(r.token, r.logprob, r.top) !== false;
    } catch (err) {
      return this.end(s, () => s.sink.onError(asGatewayError(err)));
    }
    if (s.gone) return; // cancelled from inside the sink
    if (!more) return this.end(s, () => s.sink.onFinish("stop"));
    if (s.generated >= s.req.maxTokens || s.pos + 1 > this.opts.contextLength) return this.end(s, () => s.sink.onFinish("length"));
    s.next = r.token;
  }

  private failStep(batch: readonly Seq[], err: unknown): void {
    this.opts.observer?.stepError?.(err);
    this.opts.logger.error({ err, seqs: batch.map((s) => s.id) }, "backend step failed");
    const msg = err instanceof Error ? err.message : String(err);
    for (const s of batch) {
      s.inFlight = false;
      if (s.gone) this.pendingRelease.push(s.id);
      else this.end(s, () => s.sink.onError(new BackendError(`the model backend failed: ${msg}`, { cause: err })));
    }
  }
}
