/**
 * A GGUF carrying Grok-1's real vocabulary (the 131072 pieces of ../shared/grok-1/tokenizer.model,
 * built into the GGUF by this test) loads and tokenises the reference vectors exactly: strings are
 * read as their bytes (piece 124967 is U+FEFF U+200B, distinct from piece 130318 U+200B). A broken
 * vocabulary leaves the model usable with token ids.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateModel, grokGgufMetadata, writeGguf } from "../../factory/index.js";
import { decodeModelProto, IdsOnlyTokenizer, loadServingModel, openModel, parseModelConfig, presetConfig, type ServingModel } from "../../model/index.js";
import { SHARED, tempDirs } from "../weights/helpers.js";

const GROK_TOKENIZER = path.join(SHARED, "grok-1/tokenizer.model");
const VECTORS = path.join(SHARED, "grok-1/tokenizer_vectors.json");
const vectors = JSON.parse(readFileSync(VECTORS, "utf8")) as { cases: { text: string; ids: number[] }[] };

/** A one-layer model of Grok-1's vocabulary at a small width (the embedding is 131072 × 64). */
const CONFIG = parseModelConfig(
  { ...presetConfig("grok-1-tiny"), name: "grok-vocab-test", vocabSize: 131072, dModel: 64, nLayers: 1, nHeads: 4, nKvHeads: 1, headDim: 16, ffnDim: 64, addBos: false },
  "test",
);

const dirs = tempDirs("moe-vocab-");
let gguf: string;
let served: ServingModel;

beforeAll(async () => {
  const dir = dirs.make();
  const r = generateModel({ config: CONFIG, outDir: dir, format: "gguf", dtype: "q8_0", seed: 3, tokenizerModel: readFileSync(GROK_TOKENIZER) });
  gguf = r.weightsPath;
  served = await loadServingModel(gguf, { threads: 1 });
}, 300_000);
afterAll(async () => {
  await served?.close();
  dirs.cleanup();
});

describe("a GGUF with Grok-1's 131072-piece vocabulary", () => {
  it("keeps every piece's bytes: a leading U+FEFF is part of the piece", () => {
    const m = openModel(gguf);
    try {
      const src = m.tokenizer;
      expect(src.kind).toBe("gguf-vocab");
      if (src.kind !== "gguf-vocab") return;
      const spm = decodeModelProto(readFileSync(GROK_TOKENIZER), GROK_TOKENIZER);
      expect(src.tokens.length).toBe(131072);
      expect(src.tokens[124967]).toBe("\uFEFF\u200B");
      expect(src.tokens[130318]).toBe("\u200B");
      const enc = new TextEncoder();
      for (let i = 0; i < spm.pieces.length; i++) if (src.tokens[i] !== spm.pieces[i]!.piece) expect.fail(`piece ${i}: ${JSON.stringify(src.tokens[i])} != ${JSON.stringify(spm.pieces[i]!.piece)}`);
      expect(Buffer.compare(enc.encode(src.tokens[124967]), Buffer.from([0xef, 0xbb, 0xbf, 0xe2, 0x80, 0x8b]))).toBe(0);
    } finally {
      m.close();
    }
  });

  it("loads with a real tokenizer and encodes every reference vector exactly", () => {
    expect(served.tokenizer).not.toBeInstanceOf(IdsOnlyTokenizer);
    expect(served.tokenizer.vocabSize).toBe(131072);
    expect(vectors.cases.length).toBe(24);
    for (const c of vectors.cases) expect(served.tokenizer.encode(c.text), c.text).toEqual(c.ids);
    for (const c of vectors.cases) expect(served.tokenizer.decode(c.ids)).toBe(c.text);
  });
});

describe("a GGUF whose vocabulary is unusable", () => {
  it("still loads and generates from token ids; a text prompt names the problem", async () => {
    const dir = dirs.make();
    const src = generateModel({ config: presetConfig("grok-1-tiny"), outDir: dir, format: "gguf", dtype: "f32", seed: 4 });
    const m = openModel(src.weightsPath);
    const bad = path.join(dir, "dup-vocab.gguf");
    try {
      if (m.tokenizer.kind !== "gguf-vocab") throw new Error("expected an embedded vocabulary");
      const tokens = [...m.tokenizer.tokens];
      tokens[700] = tokens[600]!; // a repeated piece: SentencePiece cannot load this vocabulary
      const tensors = m.weights.tensors().map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: m.weights.readRaw(t.name).bytes }));
      writeGguf(bad, { metadata: grokGgufMetadata(m.config, { fileType: 0, vocab: { tokens, scores: m.tokenizer.scores, types: m.tokenizer.types, addSpacePrefix: true } }), tensors });
    } finally {
      m.close();
    }
    const good = await loadServingModel(src.weightsPath, { threads: 1 });
    const broken = await loadServingModel(bad, { threads: 1 });
    try {
      expect(broken.tokenizer).toBeInstanceOf(IdsOnlyTokenizer);
      expect(() => broken.tokenizer.encode("hello")).toThrow(/token 700 .* repeats token 600/);
      const prompt = [1, 422, 77, 1500];
      const a = await good.engine.forward([{ seq: good.engine.newSequence(), tokens: prompt }]);
      const b = await broken.engine.forward([{ seq: broken.engine.newSequence(), tokens: prompt }]);
      expect(Array.from(b)).toEqual(Array.from(a));
    } finally {
      await good.close();
      await broken.close();
    }
  });
});
