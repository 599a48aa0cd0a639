/**
 * Synthetic prompts with exact token lengths, reproducible by seed: token-id arrays drawn
 * uniformly from a vocabulary range, or (with a tokenizer) text built from its normal pieces.
 */
import { LoadTestOptionError } from "./errors.js";
import { createRng, standardNormal, uniformInt, type Rng } from "./random.js";

/** A token-length distribution: normal(mean, stddev), rounded, clamped to ≥ 1. */
export interface LengthDist {
  readonly mean: number;
  readonly stddev: number;
}

/** Token ids `[lo, hi)` prompts are drawn from (hi exclusive). */
export interface VocabRange {
  readonly lo: number;
  readonly hi: number;
}

/**
 * Default id range 260:2048. Ids below 260 are special tokens (pad/bos/eos/unk) and the 256 byte
 * pieces in the project's tokenizers (`FIRST_NORMAL_ID` = 260); 2048 is the vocabulary of
 * `grok-1-tiny`, so the default is valid for the tiny model and for Grok-1 (131072) alike.
 */
export const DEFAULT_VOCAB_RANGE: VocabRange = Object.freeze({ lo: 260, hi: 2048 });

/** One request's synthetic input. */
export interface SyntheticRequest {
  /** Position in the run, 0-based. */
  readonly index: number;
  /** Token ids (exact length) or text (built to encode to exactly `promptTokens` with the tokenizer). */
  readonly prompt: readonly number[] | string;
  /** Prompt length in tokens, as the load tester counts it (without BOS); null when unknown (dataset text without a tokenizer). */
  readonly promptTokens: number | null;
  /** `max_tokens` for this request. */
  readonly maxTokens: number;
}

/** A synthesised request: its prompt length is always known. */
export type SynthesizedRequest = SyntheticRequest & { readonly promptTokens: number };

/** Parse `MEAN[:STDDEV]` (tokens) for the flag named `field`. */
export function parseLengthDist(spec: string, field: string): LengthDist {
  const parts = spec.split(":");
  const mean = Number(parts[0]);
  const stddev = parts.length > 1 ? Number(parts[1]) : 0;
  if (parts.length > 2 || !Number.isFinite(mean) || mean < 1 || !Number.isFinite(stddev) || stddev < 0) {
    throw new LoadTestOptionError(`${field} must be MEAN[:STDDEV] with MEAN >= 1 and STDDEV >= 0, got '${spec}'`, {
      field,
      fix: `e.g. ${field} 256:32`,
    });
  }
  return { mean, stddev };
}

/** Parse `LO:HI` (HI exclusive, LO ≥ 0, HI > LO). */
export function parseVocabRange(spec: string, field = "--vocab-range"): VocabRange {
  const m = /^(\d+):(\d+)$/.exec(spec.trim());
  const lo = m ? Number(m[1]) : NaN;
  const hi = m ? Number(m[2]) : NaN;
  if (!m || !(hi > lo)) throw new LoadTestOptionError(`${field} must be LO:HI with 0 <= LO < HI (HI exclusive), got '${spec}'`, { field, fix: `e.g. ${field} 260:2048` });
  return { lo, hi };
}

/** One length from `dist`: round(normal(mean, stddev)), at least 1. */
export function sampleLength(rng: Rng, dist: LengthDist): number {
  const x = dist.stddev > 0 ? dist.mean + dist.stddev * standardNormal(rng) : dist.mean;
  return Math.max(1, Math.round(x));
}

/** What every synthesiser needs. */
export interface PromptPlan {
  readonly count: number;
  readonly promptTokens: LengthDist;
  readonly maxTokens: LengthDist;
  readonly seed: number;
}

/** The (prompt, max_tokens) lengths of every request; the same for token and text prompts. */
export function sampleLengths(plan: PromptPlan): Array<{ promptTokens: number; maxTokens: number }> {
  const rng = createRng(plan.seed, "lengths");
  return Array.from({ length: plan.count }, () => ({ promptTokens: sampleLength(rng, plan.promptTokens), maxTokens: sampleLength(rng, plan.maxTokens) }));
}

/** Token-id prompts of exact lengths, ids uniform in `vocabRange`. Pure: same plan, same prompts. */
export function synthesizeTokenPrompts(plan: PromptPlan & { readonly vocabRange: VocabRange }): SynthesizedRequest[] {
  const { lo, hi } = plan.vocabRange;
  const rng = createRng(plan.seed, "prompt-ids");
  return sampleLengths(plan).map((l, index) => ({
    index,
    prompt: Array.from({ length: l.promptTokens }, () => uniformInt(rng, lo, hi)),
    promptTokens: l.promptTokens,
    maxTokens: l.maxTokens,
  }));
}

/** The part of the project's `Tokenizer` the text synthesiser uses (`pieceType` when the implementation has it). */
export interface PieceTokenizer {
  readonly vocabSize: number;
  encode(text: string, opts?: { addBos?: boolean }): number[];
  decode(ids: readonly number[]): string;
  idToPiece(id: number): string;
  pieceType?(id: number): number;
}

const NORMAL_PIECE = 1;

/**
 * Ids of the tokenizer's normal pieces (SentencePiece type NORMAL; without `pieceType`, pieces
 * that are not `<...>` control/byte pieces), optionally restricted to `range`.
 */
export function normalPieceIds(tok: PieceTokenizer, range?: VocabRange): number[] {
  const lo = range?.lo ?? 0;
  const hi = Math.min(range?.hi ?? tok.vocabSize, tok.vocabSize);
  const ids: number[] = [];
  for (let id = lo; id < hi; id++) {
    const normal = tok.pieceType ? tok.pieceType(id) === NORMAL_PIECE : !/^<.*>$/s.test(tok.idToPiece(id));
    if (normal && tok.decode([id]).length > 0) ids.push(id);
  }
  return ids;
}

/**
 * Text whose encoding (without BOS) is exactly `target` tokens when a few rounds of trimming and
 * padding reach it (piece merges at the joins make one pass inexact); otherwise the closest found.
 */
function textOfLength(tok: PieceTokenizer, pool: readonly number[], rng: Rng, target: number): { text: string; tokens: number } {
  let ids = Array.from({ length: target }, () => pool[uniformInt(rng, 0, pool.length)]!);
  let best = { text: "", tokens: 0 };
  for (let round = 0; round < 16; round++) {
    const text = tok.decode(ids);
    const enc = tok.encode(text, { addBos: false });
    if (Math.abs(enc.length - target) < Math.abs(best.tokens - target) || best.text === "") best = { text, tokens: enc.length };
    if (enc.length === target) return best;
    ids = enc.length > target ? enc.slice(0, target) : enc.concat(Array.from({ length: target - enc.length }, () => pool[uniformInt(rng, 0, pool.length)]!));
  }
  return best;
}

/**
 * Text prompts built from the tokenizer's normal pieces; `promptTokens` is the text's length
 * under this tokenizer (without BOS; the gateway may add one). Pure given the tokenizer.
 * @throws LoadTestOptionError when the tokenizer has no normal pieces in `vocabRange`.
 */
export function synthesizeTextPrompts(tok: PieceTokenizer, plan: PromptPlan & { readonly vocabRange?: VocabRange }): SynthesizedRequest[] {
  const pool = normalPieceIds(tok, plan.vocabRange);
  if (pool.length === 0) throw new LoadTestOptionError("the tokenizer has no normal pieces in the id range", { field: "--vocab-range", fix: "widen --vocab-range or drop it" });
  const rng = createRng(plan.seed, "prompt-text");
  return sampleLengths(plan).map((l, index) => {
    const { text, tokens } = textOfLength(tok, pool, rng, l.promptTokens);
    return { index, prompt: text, promptTokens: tokens, maxTokens: l.maxTokens };
  });
}
