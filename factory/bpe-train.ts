/**
 * The project's own tokenizer for its generated tiny models: byte-pair encoding learnt on the
 * project-written corpus (corpus.ts), saved as a SentencePiece BPE `tokenizer.model` laid out like
 * Grok-1's vocabulary:
 *
 * | ids | pieces | type | score |
 * |---|---|---|---|
 * | 0–3 | `[PAD]` `[BOS]` `[EOS]` `[UNK]` | control ×3, unknown | 0 |
 * | 4–259 | `<0x00>`…`<0xFF>` | byte | 0 |
 * | 260… | corpus characters (`▁` first, then by frequency), then merges in learnt order | normal | −(id − 260) |
 *
 * Everything is integer counting with total-order tie-breaks, so a vocabulary size always gives
 * the same bytes.
 */
import { encodeModelProto, PieceType, SpmModelType, TokenizerError, type SpmPiece } from "../model/index.js";
import { buildCorpus } from "./corpus.js";

/** Id of the first byte piece `<0x00>`. */
export const FIRST_BYTE_ID = 4;
/** Id of the first normal piece (`▁`). */
export const FIRST_NORMAL_ID = FIRST_BYTE_ID + 256;
/** Longest piece learnt, in UTF-16 code units (SentencePiece's max_sentencepiece_length). */
export const MAX_PIECE_LENGTH = 16;
/** Largest vocabulary the trainer accepts (pair keys pack two ids into 32 bits). */
export const MAX_TINY_VOCAB = 65_536;

const SPACE = "\u2581";
const SPECIALS: readonly SpmPiece[] = [
  { piece: "[PAD]", score: 0, type: PieceType.CONTROL },
  { piece: "[BOS]", score: 0, type: PieceType.CONTROL },
  { piece: "[EOS]", score: 0, type: PieceType.CONTROL },
  { piece: "[UNK]", score: 0, type: PieceType.UNKNOWN },
];

type CharClass = "S" | "L" | "D" | "P";
function charClass(ch: string): CharClass {
  const c = ch.charCodeAt(0);
  if (c < 0x80) {
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) return "L";
    return c >= 0x30 && c <= 0x39 ? "D" : "P";
  }
  if (ch === SPACE) return "S";
  if (/\p{L}/u.test(ch)) return "L";
  if (/\p{N}/u.test(ch)) return "D";
  return "P";
}

/**
 * SentencePiece-like pre-tokenisation of training text: each line gets a dummy-prefix `▁`,
 * spaces become `▁`, and a segment never crosses a `▁`, a letter/punctuation change or a digit
 * (digits stand alone, like split_digits). A `▁` leads the segment after it unless a digit follows.
 * @returns segment → occurrence count, in first-seen order.
 */
export function pretokenize(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (seg: string) => {
    if (seg.length > 0) counts.set(seg, (counts.get(seg) ?? 0) + 1);
  };
  for (const line of text.split("\n")) {
    let seg = "";
    let prev: CharClass | null = null;
    for (const ch of SPACE + line.replaceAll(" ", SPACE)) {
      const c = charClass(ch);
      const boundary =
        prev !== null && (c === "S" || c === "D" || prev === "D" || (prev !== "S" && c !== prev));
      if (boundary) {
        add(seg);
        seg = "";
      }
      seg += ch;
      prev = c;
    }
    add(seg);
  }
  return counts;
}

/** Max-heap of (count, left, right) with count descending, then left, then right ascending. */
class PairHeap {
  private readonly items: number[][] = [];
  get size(): number {
    return this.items.length;
  }
  private static before(x: number[], y: number[]): boolean {
    return x[0]! !== y[0]! ? x[0]! > y[0]! : x[1]! !== y[1]! ? x[1]! < y[1]! : x[2]! < y[2]!;
  }
  push(e: number[]): void {
    const a = this.items;
    a.push(e);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!PairHeap.before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): number[] | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && PairHeap.before(a[l]!, a[m]!)) m = l;
        if (r < a.length && PairHeap.before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Learns BPE pieces on `segments` until there are `maxPieces` normal pieces or nothing is left
 * to merge. Pieces start as the segments' characters (`▁` first, then by count descending, then
 * code point); each step merges the most frequent adjacent pair (ties: lower left id, then lower
 * right id), skipping pairs longer than MAX_PIECE_LENGTH. A merge whose text is already a piece
 * re-uses it.
 * @returns the normal pieces in id order (characters, then merges).
 */
export function trainBpe(segments: ReadonlyMap<string, number>, maxPieces: number): string[] {
  const charCount = new Map<string, number>();
  for (const [seg, n] of segments) for (const ch of seg) charCount.set(ch, (charCount.get(ch) ?? 0) + n);
  const chars = [...charCount.keys()].sort((a, b) => {
    if (a === SPACE || b === SPACE) return a === SPACE ? -1 : 1;
    const d = charCount.get(b)! - charCount.get(a)!;
    return d !== 0 ? d : a.codePointAt(0)! - b.codePointAt(0)!;
  });
  const pieces = [...chars];
  const pieceId = new Map(pieces.map((p, i) => [p, i]));
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [seg, n] of segments) {
    words.push(Array.from(seg, (ch) => pieceId.get(ch)!));
    freq.push(n);
  }
  const K = MAX_TINY_VOCAB;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const heap = new PairHeap();
  const touched = new Set<number>();
  const addPairs = (w: number, sign: 1 | -1) => {
    const s = words[w]!;
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i]! * K + s[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * freq[w]!);
      touched.add(key);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  const flushTouched = () => {
    for (const key of touched) {
      const n = pairCount.get(key)!;
      const a = Math.floor(key / K);
      const b = key % K;
      if (n > 0 && pieces[a]!.length + pieces[b]!.length <= MAX_PIECE_LENGTH) heap.push([n, a, b]);
    }
    touched.clear();
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);
  flushTouched();

  while (pieces.length < maxPieces && heap.size > 0) {
    const [n, a, b] = heap.pop()!;
    const key = a! * K + b!;
    if (pairCount.get(key) !== n) continue; // stale entry
    const text = pieces[a!]! + pieces[b!]!;
    let c = pieceId.get(text);
    if (c === undefined) {
      c = pieces.length;
      pieces.push(text);
      pieceId.set(text, c);
    }
    for (const w of [...pairWords.get(key)!].sort((x, y) => x - y)) {
      const s = words[w]!;
      let has = false;
      for (let i = 0; i + 1 < s.length && !has; i++) has = s[i] === a && s[i + 1] === b;
      if (!has) continue;
      addPairs(w, -1);
      const merged: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          merged.push(c);
          i++;
        } else merged.push(s[i]!);
      }
      words[w] = merged;
      addPairs(w, 1);
    }
    pairWords.delete(key);
    flushTouched();
  }
  return pieces;
}

let corpusSegments: Map<string, number> | undefined;
let corpusChars = 0;
let learnt: string[] = [];
let learntExhausted = false;

function segments(): Map<string, number> {
  if (!corpusSegments) {
    corpusSegments = pretokenize(buildCorpus());
    const chars = new Set<string>();
    for (const seg of corpusSegments.keys()) for (const ch of seg) chars.add(ch);
    corpusChars = chars.size;
  }
  return corpusSegments;
}

/** Normal pieces learnt on the project corpus, at least `count` of them when the corpus allows (memoised). */
function learntPieces(count: number): string[] {
  const corpusSegments = segments();
  if (learnt.length < count && !learntExhausted) {
    learnt = trainBpe(corpusSegments, count);
    learntExhausted = learnt.length < count;
  }
  return learnt;
}

/** Smallest vocabulary buildTokenizerModel accepts: specials, bytes and the corpus characters. */
export function minTokenizerVocab(): number {
  segments();
  return FIRST_NORMAL_ID + corpusChars;
}

/**
 * Serialized SentencePiece BPE `tokenizer.model` of exactly `vocabSize` pieces, learnt on the
 * project's own corpus (see the module comment for the layout). Deterministic: equal sizes give
 * equal bytes on every machine.
 * @throws TokenizerError when vocabSize is not an integer, below minTokenizerVocab(), or more than
 * the corpus can learn.
 */
export function buildTokenizerModel(vocabSize: number): Uint8Array {
  const field = "vocabSize";
  if (!Number.isInteger(vocabSize) || vocabSize > MAX_TINY_VOCAB) {
    throw new TokenizerError(`tokenizer vocabSize ${vocabSize} must be an integer at most ${MAX_TINY_VOCAB}`, { field });
  }
  const min = minTokenizerVocab();
  const nChars = min - FIRST_NORMAL_ID;
  if (vocabSize < min) {
    throw new TokenizerError(
      `tokenizer vocabSize ${vocabSize} is too small: the minimum is ${min} (4 special + 256 byte + ${nChars} character pieces)`,
      { field, fix: `use a vocabulary size of at least ${min}` },
    );
  }
  const normal = learntPieces(vocabSize - FIRST_NORMAL_ID);
  if (normal.length < vocabSize - FIRST_NORMAL_ID) {
    const max = FIRST_NORMAL_ID + normal.length;
    throw new TokenizerError(`tokenizer vocabSize ${vocabSize} is too large: the built-in corpus yields at most ${max} pieces`, {
      field,
      fix: `use a vocabulary size of at most ${max}`,
    });
  }
  const pieces: SpmPiece[] = [...SPECIALS];
  for (let b = 0; b < 256; b++) {
    pieces.push({ piece: `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, score: 0, type: PieceType.BYTE });
  }
  for (let i = 0; i < vocabSize - FIRST_NORMAL_ID; i++) pieces.push({ piece: normal[i]!, score: 0 - i, type: PieceType.NORMAL });
  return encodeModelProto({
    pieces,
    trainerSpec: {
      modelType: SpmModelType.BPE,
      vocabSize,
      characterCoverage: 1,
      maxSentencepieceLength: MAX_PIECE_LENGTH,
      splitDigits: true,
      byteFallback: true,
      unkId: 3,
      bosId: 1,
      eosId: 2,
      padId: 0,
      unkPiece: "[UNK]",
      bosPiece: "[BOS]",
      eosPiece: "[EOS]",
      padPiece: "[PAD]",
    },
    normalizerSpec: { name: "identity", addDummyPrefix: true, removeExtraWhitespaces: false, escapeWhitespaces: true },
  });
}
