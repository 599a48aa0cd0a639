/**
 * Decode rate of a {@link StepBackend}: `concurrency` greedy sequences, split
 * into micro-batches that step at the same time, after a prompt and warm-up.
 */
import type { ModelConfig } from "../model/index.js";
import type { StepBackend } from "../stages/index.js";

/** Prompt tokens per sequence. */
export const PROMPT = 16;
/** Untimed decode steps after the prompt. */
export const WARMUP = 3;

/** Tokens/s over all sequences and ms between two tokens of one sequence. */
export interface Rate {
  readonly tokensPerSecond: number;
  readonly msPerToken: number;
}

function prompt(cfg: ModelConfig, b: number): number[] {
  return [cfg.bosId, ...Array.from({ length: PROMPT - 1 }, (_, i) => 260 + ((b * 131 + i * 17) % (cfg.vocabSize - 260)))];
}

/** Decode `steps` steps of `seqs` (one batch), after prefill and warm-up; returns the seconds of the timed steps. */
async function decodeGroup(backend: StepBackend, cfg: ModelConfig, seqs: number[], steps: number): Promise<number> {
  const greedy = { temperature: 0, topP: 1 };
  let res = await backend.step(seqs.map((seq, b) => ({ seq, pos: 0, tokens: prompt(cfg, seq + b), sampling: greedy })));
  let pos = PROMPT;
  let t0 = 0;
  for (let s = 0; s < WARMUP + steps; s++) {
    if (s === WARMUP) t0 = performance.now();
    res = await backend.step(seqs.map((seq, b) => ({ seq, pos, tokens: [res[b]!.token] })));
    pos++;
  }
  const seconds = (performance.now() - t0) / 1000;
  await backend.release(seqs);
  return seconds;
}

/** `concurrency` sequences split into `groups` micro-batches decoding at once (ids from `seqBase`). */
export async function decodeRate(backend: StepBackend, cfg: ModelConfig, concurrency: number, groups: number, steps: number, seqBase: number): Promise<Rate> {
  const per = concurrency / groups;
  const secs = await Promise.all(Array.from({ length: groups }, (_, g) => decodeGroup(backend, cfg, Array.from({ length: per }, (_, i) => seqBase + g * per + i), steps)));
  const s = Math.max(...secs);
  return { tokensPerSecond: (concurrency * steps) / s, msPerToken: (s * 1000) / steps };
}
