/**
 * Text → token ids off the event loop: worker threads that each hold the
 * model's tokenizer, so a long prompt being tokenised never delays other
 * requests' streams, `/health` or `/metrics`. Without a tokenizer source (or
 * with 0 threads) texts are encoded inline.
 */
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { MoeError } from "../common/index.js";
import { IdsOnlyTokenizer, type Tokenizer, type TokenizerSource } from "../model/index.js";
import { asGatewayError, InvalidRequestError } from "./errors.js";

/** A worker died with the job: encode it again elsewhere. */
class WorkerLostError extends MoeError {
  constructor(message: string) {
    super("TOKENIZER_WORKER_LOST", message);
  }
}

interface Job {
  resolve(ids: number[]): void;
  reject(e: Error): void;
}

interface Slot {
  readonly worker: Worker;
  readonly jobs: Map<number, Job>;
  ready: Promise<void>;
}

/** Encodes prompt texts, in worker threads when it has a tokenizer source. */
export class TokenizePool {
  private readonly slots: Slot[] = [];
  private nextJob = 1;
  private closed = false;
  /** Texts encoded in a worker / inline, since start. */
  readonly counts = { worker: 0, inline: 0 };

  constructor(
    private readonly tokenizer: Tokenizer,
    source: TokenizerSource | undefined,
    threads: number,
    private readonly logger?: Logger,
  ) {
    // a model without a usable vocabulary has nothing to tokenise with: its texts fail inline with the reason
    if (source === undefined || source.kind === "none" || tokenizer instanceof IdsOnlyTokenizer) return;
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn(source));
  }

  private spawn(source: TokenizerSource): Slot {
    // from dist/ the worker is a .js file; under the test runner (sources) a .ts one, loaded through tsx's API
    const worker = import.meta.url.endsWith(".ts")
      ? new Worker(`import("tsx/esm/api").then((t) => t.tsImport(${JSON.stringify(new URL("./tokenize-worker.ts", import.meta.url).href)}, ${JSON.stringify(import.meta.url)}))`, { eval: true, workerData: { source } })
      : new Worker(new URL("./tokenize-worker.js", import.meta.url), { workerData: { source } });
    worker.unref();
    const jobs = new Map<number, Job>();
    const slot: Slot = {
      worker,
      jobs,
      ready: new Promise<void>((resolve, reject) => {
        worker.once("message", () => resolve());
        worker.once("error", reject);
      }),
    };
    slot.ready.catch(() => undefined);
    worker.on("message", (m: { id?: number; ids?: number[]; error?: string }) => {
      const job = m.id === undefined ? undefined : jobs.get(m.id);
      if (!job) return;
      jobs.delete(m.id!);
      if (m.error !== undefined) job.reject(new InvalidRequestError(`the prompt could not be tokenised: ${m.error}`, "invalid_value", { param: "prompt" }));
      else job.resolve(m.ids!);
    });
    const fail = (why: string) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const j of jobs.values()) j.reject(new WorkerLostError(`a tokenizer worker ${why}`));
      jobs.clear();
      if (!this.closed) this.logger?.error({ why }, "tokenizer worker lost; prompts are tokenised inline from now on");
    };
    worker.on("error", (e) => fail(`failed: ${e.message}`));
    worker.on("exit", (code) => fail(`exited with code ${code}`));
    return slot;
  }

  /** Token ids of `text` (the tokenizer's BOS default). @throws GatewayError (400) when the tokenizer cannot encode it */
  async encode(text: string): Promise<number[]> {
    const slot = this.slots.reduce<Slot | undefined>((best, s) => (!best || s.jobs.size < best.jobs.size ? s : best), undefined);
    if (!slot) {
      this.counts.inline++;
      try {
        return this.tokenizer.encode(text);
      } catch (e) {
        throw asGatewayError(e);
      }
    }
    try {
      await slot.ready;
    } catch {
      return this.encode(text); // the worker could not start: it is gone from the pool
    }
    const id = this.nextJob++;
    try {
      const ids = await new Promise<number[]>((resolve, reject) => {
        slot.jobs.set(id, { resolve, reject });
        slot.worker.postMessage({ id, text });
      });
      this.counts.worker++;
      return ids;
    } catch (e) {
      if (e instanceof WorkerLostError) return this.encode(text);
      throw e;
    }
  }

  /** Stop the workers (pending encodes fail). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }
}
