/** A step's rows as struct-of-arrays (the wire's column layout), their flags, and grouping by sequence (pure). */
import { StepError } from "../errors.js";
import type { SamplingParams } from "../sampling.js";

/** Bits of a row's `flags`. */
export const ROW_FLAGS = {
  /** Sample a token after this row (the last row of a sequence's step; not on inner prompt chunks). */
  sample: 1,
  /** The row's token is a prompt token (counted by the repetition penalty). */
  prompt: 2,
  /** Return the logits of this row. */
  logits: 4,
  /** The `seed` column holds the sequence's seed (else the sampler seeds itself at random). */
  seeded: 8,
} as const;

/**
 * Per-row sampling settings, named as the wire columns of `stage.input` (each `[rows]`).
 * The last stage reads a sequence's settings at its first row when the sequence starts.
 */
export interface SamplingColumns {
  readonly flags: Uint32Array;
  readonly temperature: Float32Array;
  readonly top_p: Float32Array;
  readonly top_k: Uint32Array;
  readonly min_p: Float32Array;
  readonly presence_penalty: Float32Array;
  readonly frequency_penalty: Float32Array;
  readonly repetition_penalty: Float32Array;
  readonly seed: Uint32Array;
  readonly top_logprobs: Uint32Array;
}

/** The rows of one step: each sequence's rows contiguous, at consecutive positions. */
export interface StepRows extends SamplingColumns {
  /** Sequence id per row, `[rows]`. */
  readonly seq: Uint32Array;
  /** Position per row, `[rows]`. */
  readonly pos: Uint32Array;
  /** Token id per row, `[rows]`. */
  readonly token: Uint32Array;
}

/** A run of consecutive rows of one sequence at consecutive positions. */
export interface RowGroup {
  readonly seq: number;
  /** Index of the group's first row in the message. */
  readonly start: number;
  readonly count: number;
  readonly firstPos: number;
  readonly lastPos: number;
}

/**
 * Split rows (seq, pos) into per-sequence groups. Each sequence's rows must be
 * contiguous with consecutive positions, and a sequence may appear once.
 * @throws StepError (BAD_ROWS) naming the row that breaks the rule
 */
export function groupRows(seq: Uint32Array, pos: Uint32Array): RowGroup[] {
  const groups: RowGroup[] = [];
  const seen = new Set<number>();
  let i = 0;
  while (i < seq.length) {
    const s = seq[i]!;
    if (seen.has(s)) throw new StepError("BAD_ROWS", `row ${i}: sequence ${s} appears in two separate runs of one message`);
    seen.add(s);
    let j = i + 1;
    while (j < seq.length && seq[j] === s) {
      if (pos[j] !== pos[j - 1]! + 1) throw new StepError("BAD_ROWS", `row ${j}: sequence ${s} position ${pos[j]} does not follow ${pos[j - 1]}`);
      j++;
    }
    groups.push({ seq: s, start: i, count: j - i, firstPos: pos[i]!, lastPos: pos[j - 1]! });
    i = j;
  }
  return groups;
}

/** One sequence's share of a step, as callers build it (a scheduler's step item). */
export interface RowItem {
  /** Sequence id (uint32, unique while the sequence lives). */
  readonly seq: number;
  /** Position of tokens[0] (= tokens already processed for this sequence; 0 starts it afresh). */
  readonly pos: number;
  /** New tokens: a prompt chunk, or the last sampled token. */
  readonly tokens: readonly number[];
  /** Sampling settings, read when the sequence starts (pos 0); greedy when absent. */
  readonly sampling?: SamplingParams;
  /** Sample a token after the last new token (default true; false for inner prompt chunks: no token, no PRNG draw). */
  readonly sample?: boolean;
  /** The tokens are prompt tokens (the repetition penalty counts them). */
  readonly prompt?: boolean;
  /** Return the logits [V] of the last new token too (debugging, --logits-out). */
  readonly wantLogits?: boolean;
  /** Return the logits of every new token (teacher-forced checks). */
  readonly allLogits?: boolean;
}

const GREEDY: SamplingParams = { temperature: 0, topP: 1 };

/** Build the struct-of-arrays rows of a step from per-sequence items. */
export function stepRows(items: readonly RowItem[]): StepRows {
  const n = items.reduce((a, it) => a + it.tokens.length, 0);
  const u32 = () => new Uint32Array(n);
  const f32 = () => new Float32Array(n);
  const r = {
    seq: u32(), pos: u32(), token: u32(), flags: u32(), temperature: f32(), top_p: f32(), top_k: u32(), min_p: f32(),
    presence_penalty: f32(), frequency_penalty: f32(), repetition_penalty: f32(), seed: u32(), top_logprobs: u32(),
  };
  let i = 0;
  for (const it of items) {
    if (it.tokens.length === 0) throw new StepError("BAD_ROWS", `sequence ${it.seq}: a step needs at least one token`);
    const p: SamplingParams = it.sampling ?? GREEDY;
    const base = (it.prompt ? ROW_FLAGS.prompt : 0) | (p.seed !== undefined ? ROW_FLAGS.seeded : 0);
    it.tokens.forEach((t, k) => {
      const last = k === it.tokens.length - 1;
      r.seq[i] = it.seq;
      r.pos[i] = it.pos + k;
      r.token[i] = t;
      r.flags[i] = base | (last && it.sample !== false ? ROW_FLAGS.sample : 0) | ((last && it.wantLogits) || it.allLogits ? ROW_FLAGS.logits : 0);
      r.temperature[i] = p.temperature;
      r.top_p[i] = p.topP;
      r.top_k[i] = p.topK ?? 0;
      r.min_p[i] = p.minP ?? 0;
      r.presence_penalty[i] = p.presencePenalty ?? 0;
      r.frequency_penalty[i] = p.frequencyPenalty ?? 0;
      r.repetition_penalty[i] = p.repetitionPenalty ?? 1;
      r.seed[i] = p.seed ?? 0;
      r.top_logprobs[i] = p.topLogprobs ?? 0;
      i++;
    });
  }
  return r;
}
