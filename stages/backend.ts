/**
 * What a scheduler drives: a step function over many sequences at once.
 * Implemented by the single-process engine (stages/local-backend.ts) and by
 * the client of a running pipeline (stages/pipeline-client.ts), so the
 * gateway and `moe generate` work the same on one process or a cluster.
 */
import { type RowItem, type SamplingParams, type StepOutput, type TopLogprob } from "../model/index.js";

/** One sequence's share of a step: the engine core's row item (seq, pos, tokens, sampling, flags). */
export type StepItem = Omit<RowItem, "allLogits">;

/** The token sampled after a step for one sequence. */
export interface StepResult {
  readonly seq: number;
  readonly token: number;
  /** log-softmax of the sampled token under the model. */
  readonly logprob: number;
  /** The most likely tokens, when the sequence asked for top logprobs. */
  readonly top?: readonly TopLogprob[];
  /** Logits [V] of the last new token, when asked for. */
  readonly logits?: Float32Array;
}

/** A model that advances sequences one step at a time. */
export interface StepBackend {
  /** How many steps may be in flight at once (pipeline depth); 1 for a single process. */
  readonly maxInFlight: number;
  /**
   * Run one step for each item (distinct sequences). Resolves with one result per item that samples
   * (`sample !== false`), in item order. Rejects with a clear error naming what failed.
   */
  step(items: readonly StepItem[], opts?: { deadline?: number }): Promise<StepResult[]>;
  /** Free the sequences' KV caches and sampler state everywhere. */
  release(seqs: readonly number[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Results of a step from the core's output: the sampled rows in item order, with the logits of the
 * items that asked for them. @throws Error when a sampling item got no token
 */
export function stepResults(items: readonly StepItem[], out: Pick<StepOutput, "sampled" | "logits">, vocabSize: number): StepResult[] {
  const bySeq = new Map((out.sampled ?? []).map((s) => [s.seq, s]));
  const logits = new Map<number, Float32Array>();
  const l = out.logits;
  if (l) for (let i = 0; i < l.seq.length; i++) logits.set(l.seq[i]!, l.values.slice(i * vocabSize, (i + 1) * vocabSize));
  const results: StepResult[] = [];
  for (const it of items) {
    if (it.sample === false) continue;
    const s = bySeq.get(it.seq);
    if (!s) throw new Error(`the step returned no token for sequence ${it.seq}`);
    const lg = logits.get(it.seq);
    results.push({ seq: it.seq, token: s.token, logprob: s.logprob, ...(s.top ? { top: s.top } : {}), ...(lg ? { logits: lg } : {}) });
  }
  return results;
}


