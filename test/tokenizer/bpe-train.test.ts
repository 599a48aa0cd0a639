import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { TokenizerError } from "../../model/errors.js";
import { decodeModelProto, loadModelBytes, PieceType, SpmModelType } from "../../model/index.js";
import { buildCorpus, buildTokenizerModel, FIRST_NORMAL_ID, MAX_PIECE_LENGTH, minTokenizerVocab, pretokenize, trainBpe } from "../../factory/index.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

const TEXTS = [
  "The answer to life the universe and everything is",
  "Alice bought 3 apples for $4.50 in Paris, didn't she?",
  " leading space, trailing space ",
  "a  b   c\n\ttabs\tand\nnewlines\n",
  "héllo 🤖 мир",
  "日本語のテキストです。",
  "emoji: 😀🎉👍🏽 and \u0000null\u0001ctrl",
  "",
];

describe("the project corpus", () => {
  it("is deterministic English text with digits and punctuation", () => {
    const a = buildCorpus(200);
    expect(buildCorpus(200)).toBe(a);
    expect(a).toMatch(/[0-9]/);
    expect(a).toMatch(/[.,;:!?"'()$%-]/);
    expect(a.split("\n").length).toBeGreaterThan(200);
  });
  it("pretokenizes like SentencePiece: ▁-led words, split digits and punctuation", () => {
    const segs = [...pretokenize("Hi there, 42 cats").keys()];
    expect(segs).toEqual(["\u2581Hi", "\u2581there", ",", "\u2581", "4", "2", "\u2581cats"]);
  });
  it("trainBpe breaks ties by the lower piece ids", () => {
    const pieces = trainBpe(new Map([["\u2581ab", 2], ["\u2581ba", 2]]), 100);
    expect(pieces.slice(0, 3)).toEqual(["\u2581", "a", "b"]);
    expect(pieces[3]).toBe("\u2581a");
    expect(pieces.every((p) => p.length <= MAX_PIECE_LENGTH)).toBe(true);
  });
});

describe("buildTokenizerModel", () => {
  it("is deterministic", () => {
    const a = buildTokenizerModel(2048);
    const b = buildTokenizerModel(2048);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(sha256(a)).toBe(sha256(b));
    // Golden: same bytes on every machine. Changing corpus.ts or bpe-train.ts changes every
    // generated tiny model (and its weights' meaning); update this on purpose only.
    expect(sha256(a)).toBe("530659bd83b4d8171615f6e08b8efa6d22a4bc3459a04d7925ac5c11c036cca8");
    // Smaller vocabularies are prefixes of larger ones (same greedy merges).
    const small = decodeModelProto(buildTokenizerModel(1000), "tiny").pieces;
    const large = decodeModelProto(a, "tiny").pieces;
    expect(large.slice(0, 1000).map((p) => p.piece)).toEqual(small.map((p) => p.piece));
  });

  it.each([600, 1000, 2048, 4096, 8192])("has exactly %i pieces in Grok-1's layout", (n) => {
    const m = decodeModelProto(buildTokenizerModel(n), "tiny");
    expect(m.pieces.length).toBe(n);
    expect(m.trainerSpec.vocabSize).toBe(n);
    expect(m.trainerSpec.modelType).toBe(SpmModelType.BPE);
    expect(m.trainerSpec.byteFallback).toBe(true);
    expect([m.trainerSpec.padId, m.trainerSpec.bosId, m.trainerSpec.eosId, m.trainerSpec.unkId]).toEqual([0, 1, 2, 3]);
    expect(m.normalizerSpec).toMatchObject({ name: "identity", addDummyPrefix: true, removeExtraWhitespaces: false, escapeWhitespaces: true });
    expect(m.pieces.slice(0, 4)).toEqual([
      { piece: "[PAD]", score: 0, type: PieceType.CONTROL },
      { piece: "[BOS]", score: 0, type: PieceType.CONTROL },
      { piece: "[EOS]", score: 0, type: PieceType.CONTROL },
      { piece: "[UNK]", score: 0, type: PieceType.UNKNOWN },
    ]);
    for (let b = 0; b < 256; b++) {
      expect(m.pieces[4 + b]).toEqual({ piece: `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, score: 0, type: PieceType.BYTE });
    }
    expect(m.pieces[FIRST_NORMAL_ID]!.piece).toBe("\u2581");
    const normal = m.pieces.slice(FIRST_NORMAL_ID);
    expect(normal.every((p, i) => p.type === PieceType.NORMAL && p.score === -i)).toBe(true);
    expect(new Set(m.pieces.map((p) => p.piece)).size).toBe(n);
  });

  it.each([1000, 2048, 4096])("round-trips text through sentencepiece-js (vocab %i)", async (n) => {
    const tok = await loadModelBytes(buildTokenizerModel(n), `tiny-${n}`, { addBos: true });
    expect(tok.vocabSize).toBe(n);
    for (const text of TEXTS) {
      const ids = tok.encode(text, { addBos: false });
      expect(ids.every((id) => id >= 4 && id < n)).toBe(true);
      expect(tok.decode(ids)).toBe(text);
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
    // Merges are used: a common word is one piece, plain English takes under one id per two characters.
    expect(tok.encode("the", { addBos: false })).toHaveLength(1);
    expect(tok.encode(TEXTS[0]!, { addBos: false }).length).toBeLessThan(TEXTS[0]!.length / 2);
    // Non-ASCII text goes through byte pieces.
    expect(tok.encode("🤖", { addBos: false }).filter((id) => id >= 4 && id < 260)).toHaveLength(4);
  });

  it("rejects a vocabulary smaller than the minimum, naming the minimum", () => {
    const min = minTokenizerVocab();
    expect(min).toBeGreaterThan(FIRST_NORMAL_ID);
    expect(min).toBeLessThan(600);
    expect(decodeModelProto(buildTokenizerModel(min), "tiny").pieces.length).toBe(min);
    expect(() => buildTokenizerModel(min - 1)).toThrow(TokenizerError);
    expect(() => buildTokenizerModel(256)).toThrow(new RegExp(`minimum is ${min}\\b`));
    expect(() => buildTokenizerModel(1000.5)).toThrow(TokenizerError);
  });
});
