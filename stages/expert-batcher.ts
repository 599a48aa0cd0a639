/**
 * Batches the rows for one layer that arrive close together — from any number of routers, for any of
 * the layer's experts held here — into one onnxruntime run per layer session ({@link ExpertSessions}),
 * then hands each caller its rows. A flush is scheduled on the next turn of the event loop after the
 * first submission, so every request already received joins.
 */
import type { ExpertLayerBlock } from "../model/index.js";
import type { ExpertSessions } from "./expert-sessions.js";

interface Pending {
  /** Rows [R, D]. */
  readonly hidden: Float32Array;
  /** Expert of each row [R]. */
  readonly expert: ArrayLike<number>;
  resolve(y: Float32Array): void;
  reject(e: unknown): void;
}

/** Counters of the batcher. */
export interface BatcherStats {
  /** onnxruntime runs made. */
  runs: number;
  /** Requests served. */
  requests: number;
  /** Rows computed (one per row and expert). */
  rows: number;
}

export class ExpertBatcher {
  private readonly queues = new Map<number, Pending[]>();
  private scheduled = false;
  /** Flushes running now (a flush starts while another awaits its runs when requests keep arriving). */
  private readonly running = new Set<Promise<void>>();
  readonly stats: BatcherStats = { runs: 0, requests: 0, rows: 0 };

  constructor(
    /** The host's sessions (a re-plan adds and removes experts). */
    private readonly sessions: ExpertSessions,
    private readonly dModel: number,
  ) {}

  /** Whether this host holds (layer, expert). */
  holds(layer: number, expert: number): boolean {
    return this.sessions.holds(layer, expert);
  }

  /**
   * y[r] = expert[r](hidden[r]) for rows hidden [R, D] of `layer` (each row's expert held here);
   * resolves with y [R, D] in the same row order once the batch it joined has run.
   */
  submit(layer: number, hidden: Float32Array, expert: ArrayLike<number>): Promise<Float32Array> {
    for (let r = 0; r < expert.length; r++)
      if (!this.holds(layer, expert[r]!)) return Promise.reject(new Error(`expert ${expert[r]} of layer ${layer} is not loaded on this host`));
    return new Promise((resolve, reject) => {
      let q = this.queues.get(layer);
      if (!q) this.queues.set(layer, (q = []));
      q.push({ hidden, expert, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /**
   * Resolves when every batch running or due to start at the call has finished: a session the host
   * stopped using before the call (an unloaded expert's, or one a rebuild replaced) may then be closed.
   * Batches started later are not waited for (they never see such a session), so steady traffic cannot
   * hold it off.
   */
  async idle(): Promise<void> {
    // a flush already scheduled starts before this (its setImmediate was queued first)
    if (this.scheduled) await new Promise((r) => setImmediate(r));
    await Promise.all([...this.running]);
  }

  private flush(): Promise<void> {
    const run: Promise<void> = this.flushNow().finally(() => this.running.delete(run));
    this.running.add(run);
    return run;
  }

  private async flushNow(): Promise<void> {
    this.scheduled = false;
    const work = [...this.queues.entries()];
    this.queues.clear();
    for (const [layer, pending] of work) {
      try {
        const ys = await this.runLayer(layer, pending);
        pending.forEach((p, i) => p.resolve(ys[i]!));
      } catch (e) {
        for (const p of pending) p.reject(e);
      }
    }
  }

  /** All `pending` rows of `layer`: one run per session they touch; each request's y [R, D] in its row order. */
  private async runLayer(layer: number, pending: readonly Pending[]): Promise<Float32Array[]> {
    const D = this.dModel;
    // one request (the usual case): its rows are the batch, no copy
    const x = pending.length === 1 ? pending[0]!.hidden : concat(pending.map((p) => p.hidden));
    const total = x.length / D;
    // rows (of x) of each (session, expert), in row order
    const plan = new Map<ExpertLayerBlock, Map<number, number[]>>();
    let at = 0;
    for (const p of pending)
      for (let r = 0; r < p.expert.length; r++, at++) {
        const e = p.expert[r]!;
        const s = this.sessions.sessionOf(layer, e);
        if (!s) throw new Error(`expert ${e} of layer ${layer} was unloaded (re-plan)`);
        let experts = plan.get(s);
        if (!experts) plan.set(s, (experts = new Map()));
        let rows = experts.get(e);
        if (!rows) experts.set(e, (rows = []));
        rows.push(at);
      }
    let y: Float32Array | undefined;
    for (const [s, experts] of plan) {
      // the run's output: the session's experts in its order, each expert's rows in row order
      const order = s.experts.filter((e) => experts.has(e));
      const rows = order.map((e) => Int32Array.from(experts.get(e)!));
      const out = await s.run(x, { experts: order, rows });
      this.stats.runs++;
      // one session whose output rows already are the batch's rows in order (a router sends a host's rows
      // grouped by expert in the session's order): the run's output is the answer, no reordering copy
      if (plan.size === 1 && inOrder(rows, total)) {
        y = out;
        break;
      }
      y ??= new Float32Array(total * D);
      let o = 0;
      for (const idx of rows) for (const r of idx) y.set(out.subarray(o * D, ++o * D), r * D);
    }
    y ??= new Float32Array(0);
    this.stats.requests += pending.length;
    this.stats.rows += total;
    const ys: Float32Array[] = [];
    at = 0;
    for (const p of pending) {
      ys.push(pending.length === 1 ? y : y.subarray(at * D, (at += p.expert.length) * D));
    }
    return ys;
  }
}

/** Whether `rows`, read one after another, are 0, 1, …, total − 1. */
function inOrder(rows: readonly Int32Array[], total: number): boolean {
  let next = 0;
  for (const idx of rows) for (let k = 0; k < idx.length; k++) if (idx[k] !== next++) return false;
  return next === total;
}

/** The arrays one after another. */
function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
