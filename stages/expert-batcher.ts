/**
 * Batches rows for the same (layer, expert) that arrive close together — from
 * any number of routers — into one onnxruntime run, then splits the output
 * back to each caller. A flush is scheduled on the next turn of the event
 * loop after the first submission, so every request already received joins.
 */
import type { ExpertBlock } from "../model/index.js";

interface Pending {
  readonly hidden: Float32Array;
  resolve(y: Float32Array): void;
  reject(e: unknown): void;
}

/** Counters of the batcher. */
export interface BatcherStats {
  /** onnxruntime runs made. */
  runs: number;
  /** Requests served. */
  requests: number;
  /** Rows computed. */
  rows: number;
}

export class ExpertBatcher {
  private readonly queues = new Map<string, Pending[]>();
  private scheduled = false;
  readonly stats: BatcherStats = { runs: 0, requests: 0, rows: 0 };

  constructor(
    /** Loaded experts by "layer:expert" (the expert host adds and removes entries on a re-plan). */
    private readonly blocks: ReadonlyMap<string, ExpertBlock>,
    private readonly dModel: number,
  ) {}

  /** Whether this host holds (layer, expert). */
  holds(layer: number, expert: number): boolean {
    return this.blocks.has(`${layer}:${expert}`);
  }

  /** y = expert(hidden) for rows [R, D]; resolves once the batch it joined has run. */
  submit(layer: number, expert: number, hidden: Float32Array): Promise<Float32Array> {
    const key = `${layer}:${expert}`;
    if (!this.blocks.has(key)) return Promise.reject(new Error(`expert ${expert} of layer ${layer} is not loaded on this host`));
    return new Promise((resolve, reject) => {
      let q = this.queues.get(key);
      if (!q) this.queues.set(key, (q = []));
      q.push({ hidden, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Resolves when no batch is running (a removed expert's session may then be closed). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private running: Promise<void> | undefined;

  private flush(): Promise<void> {
    const run = this.flushNow().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  private async flushNow(): Promise<void> {
    this.scheduled = false;
    const work = [...this.queues.entries()];
    this.queues.clear();
    for (const [key, pending] of work) {
      const total = pending.reduce((a, p) => a + p.hidden.length, 0);
      // one request (the usual case): its rows are the batch, no copy
      const x = pending.length === 1 ? pending[0]!.hidden : new Float32Array(total);
      let o = 0;
      if (x !== pending[0]!.hidden)
        for (const p of pending) {
          x.set(p.hidden, o);
          o += p.hidden.length;
        }
      try {
        const block = this.blocks.get(key);
        if (!block) {
          const [layer, expert] = key.split(":");
          throw new Error(`expert ${expert} of layer ${layer} was unloaded (re-plan)`);
        }
        const y = await block.run(x);
        this.stats.runs++;
        this.stats.requests += pending.length;
        this.stats.rows += total / this.dModel;
        o = 0;
        for (const p of pending) {
          p.resolve(pending.length === 1 ? y : y.subarray(o, o + p.hidden.length)); // views of this run's own output
          o += p.hidden.length;
        }
      } catch (e) {
        for (const p of pending) p.reject(e);
      }
    }
  }
}
