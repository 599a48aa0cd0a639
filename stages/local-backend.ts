/** {@link StepBackend} over the single-process engine: a thin shell over its layer-range core. */
import { stepRows, type Engine } from "../model/index.js";
import { stepResults, type StepBackend, type StepItem, type StepResult } from "./backend.js";

export class LocalBackend implements StepBackend {
  readonly maxInFlight = 1;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly engine: Engine) {}

  step(items: readonly StepItem[]): Promise<StepResult[]> {
    // one engine call at a time: a sequence's steps must not overlap
    const run = this.queue.then(() => this.run(items));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(items: readonly StepItem[]): Promise<StepResult[]> {
    for (const it of items) if (it.pos === 0 && it.sampling?.logitBias) this.engine.core.setLogitBias(it.seq, it.sampling.logitBias);
    const out = await this.engine.step(stepRows(items));
    return stepResults(items, out, this.engine.config.vocabSize);
  }

  async release(seqs: readonly number[]): Promise<void> {
    this.engine.core.release(seqs);
  }

  /** Sequences holding a KV cache. */
  get liveSequences(): number {
    return this.engine.core.liveSequences;
  }

  async close(): Promise<void> {
    await this.engine.close();
  }
}
