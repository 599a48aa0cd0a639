/**
 * The single-process engine as a {@link StepBackend} whose MoE calls are
 * timed inside its own steps: the share of a decode step that the experts
 * take when they run where they run in a real step (warm, right after the
 * layer's attention), which `moe plan --calibrate` subtracts from the step to
 * get the stages' own compute (attention, norms, embedding, head).
 *
 * The steps are those of `LocalBackend` (same core, same executor); the only
 * addition is two `performance.now()` calls around each layer's MoE (< 1 µs).
 */
import type { Engine, MoeExecutor } from "../model/index.js";
import { stepRows } from "../model/index.js";
import { stepResults, type StepBackend, type StepItem, type StepResult } from "../stages/index.js";

/** What {@link InStepMoeBackend.take} returns: the decode steps' MoE since the last take. */
export interface InStepMoe {
  /** Mean ms of one layer's MoE call in the decode steps (one token per sequence). */
  readonly msPerLayer: number;
  /** Layer MoE calls averaged. */
  readonly calls: number;
}

/** Reads the in-step MoE figures. */
export interface InStepMoeTimer {
  /** Forget what was timed so far. */
  reset(): void;
  /**
   * The decode steps' MoE since the last reset or take (only the `last` decode steps when given: a run's
   * timed steps, after its untimed warm-up steps), and start anew. @throws Error when no decode step ran
   */
  take(last?: number): InStepMoe;
}

export class InStepMoeBackend implements StepBackend, InStepMoeTimer {
  readonly maxInFlight = 1;
  private queue: Promise<unknown> = Promise.resolve();
  /** Per decode step since the last take (one token per sequence; prefill steps are not counted): MoE ms and layer calls. */
  private steps: { ms: number; calls: number }[] = [];
  /** The decode step running now, or undefined in a prefill step. */
  private current: { ms: number; calls: number } | undefined;
  private readonly timed: MoeExecutor;

  constructor(readonly engine: Engine) {
    const moe = engine.moe;
    this.timed = {
      run: async (layer, m) => {
        const t0 = performance.now();
        const y = await moe.run(layer, m);
        if (this.current) {
          this.current.ms += performance.now() - t0;
          this.current.calls++;
        }
        return y;
      },
    };
  }

  step(items: readonly StepItem[]): Promise<StepResult[]> {
    const run = this.queue.then(async () => {
      this.current = items.every((it) => it.tokens.length === 1) ? { ms: 0, calls: 0 } : undefined;
      if (this.current) this.steps.push(this.current);
      const out = await this.engine.core.step(stepRows(items), undefined, this.timed);
      return stepResults(items, out, this.engine.config.vocabSize);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  reset(): void {
    this.steps = [];
  }

  take(last?: number): InStepMoe {
    const steps = last === undefined ? this.steps : this.steps.slice(-last);
    this.steps = [];
    const calls = steps.reduce((a, s) => a + s.calls, 0);
    if (calls === 0) throw new Error("in-step MoE: no decode step ran since the last take");
    return { msPerLayer: steps.reduce((a, s) => a + s.ms, 0) / calls, calls };
  }

  async release(seqs: readonly number[]): Promise<void> {
    this.engine.core.release(seqs);
  }

  async close(): Promise<void> {
    await this.engine.close();
  }
}
