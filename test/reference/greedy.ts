/** Greedy decoding through an engine's KV cache beside the float64 reference's (tests only). */
import type { Engine } from "../../model/index.js";
import { argmax, relMaxError } from "./compare.js";
import type { GrokReference } from "./grok-ref.js";

/** How an engine's greedy run followed the reference's. */
export interface GreedyComparison {
  /** Largest relative logits error over the prompt's last position and every decode step. */
  readonly worst: number;
  /** Positions (0 = after the prompt, k = after k decoded tokens; `steps + 1` in all) where the engine's argmax differs from the reference's. */
  readonly mismatches: readonly number[];
}

/**
 * Prefill `prompt` in a new sequence of `engine` and of `ref`, then decode `steps` tokens, each the
 * reference's argmax (teacher-forced, so one near-tie does not derail the rest), comparing logits each time.
 */
export async function greedyAgainstReference(engine: Engine, ref: GrokReference, prompt: number[], steps: number): Promise<GreedyComparison> {
  const seq = engine.newSequence();
  const cache = ref.newCache();
  let logits = await engine.forward([{ seq, tokens: prompt }]);
  let want = ref.forward(prompt, 0, cache).at(-1)!;
  let worst = relMaxError(logits, want);
  const mismatches: number[] = [];
  for (let step = 0; ; step++) {
    const tok = argmax(want);
    if (argmax(logits) !== tok) mismatches.push(step);
    if (step === steps) break;
    logits = await engine.forward([{ seq, tokens: [tok] }]);
    want = ref.forward([tok], cache.length, cache)[0]!;
    worst = Math.max(worst, relMaxError(logits, want));
  }
  return { worst, mismatches };
}
