/**
 * {@link StepBackend} over the single-process engine: every sequence gets an
 * engine sequence (KV cache) and a sampler on its first step.
 */
import { Sampler, type Engine, type EngineSequence } from "../model/index.js";
import type { StepBackend, StepItem, StepResult } from "./backend.js";

interface Live {
  readonly seq: EngineSequence;
  readonly sampler: Sampler;
}

export class LocalBackend implements StepBackend {
  readonly maxInFlight = 1;
  private readonly live = new Map<number, Live>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly engine: Engine) {}

  step(items: readonly StepItem[]): Promise<StepResult[]> {
    // one engine call at a time: the engine is not re-entrant for the same sequence
    const run = this.queue.then(() => this.run(items));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(items: readonly StepItem[]): Promise<StepResult[]> {
    const V = this.engine.config.vocabSize;
    const lives = items.map((it) => {
      let l = this.live.get(it.seq);
      if (!l) {
        if (it.pos !== 0) throw new Error(`sequence ${it.seq} is unknown here but its step starts at position ${it.pos}`);
        if (!it.sampling) throw new Error(`sequence ${it.seq}: sampling settings are required on its first step`);
        l = { seq: this.engine.newSequence(), sampler: new Sampler(it.sampling) };
        this.live.set(it.seq, l);
      }
      if (l.seq.length !== it.pos) throw new Error(`sequence ${it.seq}: step at position ${it.pos} but ${l.seq.length} tokens are cached`);
      return l;
    });
    const logits = await this.engine.forward(items.map((it, i) => ({ seq: lives[i]!.seq, tokens: it.tokens })));
    return items.map((it, i) => {
      const s = lives[i]!.sampler.sample(logits, i * V, V);
      return { seq: it.seq, token: s.token, logprob: s.logprob, ...(it.wantLogits ? { logits: logits.slice(i * V, (i + 1) * V) } : {}) };
    });
  }

  async release(seqs: readonly number[]): Promise<void> {
    for (const s of seqs) {
      const l = this.live.get(s);
      if (l) this.engine.release(l.seq);
      this.live.delete(s);
    }
  }

  /** Sequences holding a KV cache. */
  get liveSequences(): number {
    return this.live.size;
  }

  async close(): Promise<void> {
    this.live.clear();
    await this.engine.close();
  }
}
