import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeModelProto, loadTokenizer, PieceType, SpmModelType, type Tokenizer } from "../../model/tokenizer/index.js";

const GROK = path.resolve(process.cwd(), "../shared/grok-1/tokenizer.model");
const VECTORS = path.resolve(process.cwd(), "../shared/grok-1/tokenizer_vectors.json");

interface Vectors {
  tokenizer_sha256: string;
  cases: { text: string; ids: number[] }[];
}
const vectors = JSON.parse(readFileSync(VECTORS, "utf8")) as Vectors;

describe("spm-proto schema against xAI's tokenizer.model (SPEC §1)", () => {
  it("decodes the field numbers of sentencepiece_model.proto", () => {
    const m = decodeModelProto(readFileSync(GROK), GROK);
    expect(m.pieces.length).toBe(131072);
    expect(m.trainerSpec.modelType).toBe(SpmModelType.BPE);
    expect(m.trainerSpec.vocabSize).toBe(131072);
    expect(m.trainerSpec.byteFallback).toBe(true);
    expect(m.trainerSpec.splitDigits).toBe(true);
    expect(m.trainerSpec.maxSentencepieceLength).toBe(16);
    expect(m.trainerSpec.allowWhitespaceOnlyPieces).toBe(true);
    expect([m.trainerSpec.padId, m.trainerSpec.bosId, m.trainerSpec.eosId, m.trainerSpec.unkId]).toEqual([0, 1, 2, 3]);
    expect(m.trainerSpec.unkPiece).toBe("[UNK]");
    expect(m.normalizerSpec.name).toBe("identity");
    expect(m.normalizerSpec.addDummyPrefix).toBe(true);
    expect(m.normalizerSpec.removeExtraWhitespaces).toBe(false);
    expect(m.normalizerSpec.escapeWhitespaces).toBe(true);
    expect(m.pieces[325]).toEqual({ piece: "\u2581\u2581", score: -0, type: PieceType.NORMAL });
    expect(m.pieces[131071]!.score).toBe(-130746);
    expect(m.pieces[69]).toEqual({ piece: "<0x00>", score: 0, type: PieceType.BYTE });
    expect(m.pieces[47]!.piece).toBe("<|separator|>");
    expect(m.pieces.slice(0, 4).map((p) => p.type)).toEqual([3, 3, 3, 2]);
  });
});

describe("xAI tokenizer.model through loadTokenizer", () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer({ kind: "spm-file", path: GROK });
  });

  it("has Grok-1's vocabulary and specials, no BOS by default", () => {
    expect(vectors.cases.length).toBe(24);
    expect(tok.vocabSize).toBe(131072);
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    expect(tok.addBos).toBe(false);
    expect(tok.idToPiece(325)).toBe("\u2581\u2581");
    expect(tok.idToPiece(422)).toBe("\u2581The");
  });

  it.each(vectors.cases.map((c, i) => [i, c] as const))("vector %i encodes exactly", (_i, c) => {
    expect(tok.encode(c.text)).toEqual(c.ids);
  });

  it("decodes every vector back to its text", () => {
    for (const c of vectors.cases) expect(tok.decode(c.ids)).toBe(c.text);
  });

  it("addBos prepends [BOS]; decode drops control tokens", () => {
    const ids = tok.encode("Hello world", { addBos: true });
    expect(ids).toEqual([1, 11770, 1135]);
    expect(tok.decode([...ids, 2])).toBe("Hello world");
    expect(tok.decode([0, 1, 2])).toBe("");
  });

  it("rejects ids outside the vocabulary with a TokenizerError", () => {
    expect(() => tok.decode([131072])).toThrow(/outside the vocabulary/);
    expect(() => tok.idToPiece(-1)).toThrow(expect.objectContaining({ name: "TokenizerError", file: GROK }));
  });
});
