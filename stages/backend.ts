/**
 * What a scheduler drives: a step function over many sequences at once.
 * Implemented by the single-process engine (stages/local-backend.ts) and by
 * the client of a running pipeline (stages/pipeline-client.ts), so the
 * gateway and `moe generate` work the same on one process or a cluster.
 */
import type { SamplingParams } from "../model/index.js";

/** One sequence's share of a step. */
export interface StepItem {
  /** Sequence id (uint32, unique while the sequence lives). */
  readonly seq: number;
  /** Position of tokens[0] (= tokens already processed for this sequence). */
  readonly pos: number;
  /** New tokens: a prompt chunk, or the last sampled token. */
  readonly tokens: readonly number[];
  /** Sampling settings; required on the sequence's first step (pos 0), ignored after. */
  readonly sampling?: SamplingParams;
  /** Return the logits [V] of the last new token too (debugging, --logits-out). */
  readonly wantLogits?: boolean;
}

/** The token sampled after a step for one sequence. */
export interface StepResult {
  readonly seq: number;
  readonly token: number;
  /** log-softmax of the sampled token under the model. */
  readonly logprob: number;
  /** Logits [V] of the last new token, when asked for. */
  readonly logits?: Float32Array;
}

/** A model that advances sequences one step at a time. */
export interface StepBackend {
  /** How many steps may be in flight at once (pipeline depth); 1 for a single process. */
  readonly maxInFlight: number;
  /** Run one step for each item (distinct sequences). Rejects with a clear error naming what failed. */
  step(items: readonly StepItem[], opts?: { deadline?: number }): Promise<StepResult[]>;
  /** Free the sequences' KV caches and sampler state everywhere. */
  release(seqs: readonly number[]): Promise<void>;
  close(): Promise<void>;
}
