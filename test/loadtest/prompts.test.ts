import { describe, expect, it } from "vitest";
import { DEFAULT_VOCAB_RANGE, normalPieceIds, parseLengthDist, parseVocabRange, synthesizeTextPrompts, synthesizeTokenPrompts, type PieceTokenizer } from "../../loadtest/index.js";

const plan = { count: 200, promptTokens: { mean: 64, stddev: 16 }, maxTokens: { mean: 32, stddev: 8 }, seed: 5, vocabRange: DEFAULT_VOCAB_RANGE };

describe("token-id prompts", () => {
  it("are reproducible by seed, with exact lengths and ids in range", () => {
    const a = synthesizeTokenPrompts(plan);
    expect(synthesizeTokenPrompts(plan)).toEqual(a);
    expect(synthesizeTokenPrompts({ ...plan, seed: 6 })).not.toEqual(a);
    for (const r of a) {
      expect(Array.isArray(r.prompt)).toBe(true);
      const ids = r.prompt as number[];
      expect(ids).toHaveLength(r.promptTokens);
      for (const id of ids) expect(id >= 260 && id < 2048 && Number.isInteger(id)).toBe(true);
    }
    const mean = a.reduce((s, r) => s + r.promptTokens, 0) / a.length;
    expect(Math.abs(mean - 64)).toBeLessThan(4);
    expect(new Set(a.map((r) => r.promptTokens)).size).toBeGreaterThan(10);
  });

  it("use the mean exactly when stddev is 0 and clamp lengths to >= 1", () => {
    const fixed = synthesizeTokenPrompts({ ...plan, promptTokens: { mean: 17, stddev: 0 }, maxTokens: { mean: 9, stddev: 0 } });
    expect(fixed.every((r) => r.promptTokens === 17 && (r.prompt as number[]).length === 17 && r.maxTokens === 9)).toBe(true);
    const tiny = synthesizeTokenPrompts({ ...plan, promptTokens: { mean: 1, stddev: 50 } });
    expect(tiny.every((r) => r.promptTokens >= 1)).toBe(true);
  });

  it("parse MEAN[:STDDEV] and LO:HI naming the flag", () => {
    expect(parseLengthDist("256", "--prompt-tokens")).toEqual({ mean: 256, stddev: 0 });
    expect(parseLengthDist("256:32", "--prompt-tokens")).toEqual({ mean: 256, stddev: 32 });
    expect(() => parseLengthDist("0", "--max-tokens")).toThrow(/--max-tokens/);
    expect(() => parseLengthDist("1:-1", "--max-tokens")).toThrow(/--max-tokens/);
    expect(parseVocabRange("3:100")).toEqual({ lo: 3, hi: 100 });
    expect(() => parseVocabRange("100:3")).toThrow(/--vocab-range/);
  });
});

/** Greedy longest-match tokenizer over a few pieces that merge when joined ("a"+"b" → "ab"). */
function mergingTokenizer(): PieceTokenizer {
  const pieces = ["<pad>", "<s>", "</s>", "<0x41>", "a", "b", "c", "ab", "bc", "abc", " ", "ca"];
  return {
    vocabSize: pieces.length,
    idToPiece: (id) => pieces[id]!,
    decode: (ids) => ids.map((i) => (/^<.*>$/.test(pieces[i]!) ? "" : pieces[i]!)).join(""),
    encode: (text) => {
      const out: number[] = [];
      for (let i = 0; i < text.length; ) {
        let best = -1;
        for (let id = 4; id < pieces.length; id++) if (text.startsWith(pieces[id]!, i) && (best < 0 || pieces[id]!.length > pieces[best]!.length)) best = id;
        out.push(best);
        i += pieces[best]!.length;
      }
      return out;
    },
  };
}

describe("text prompts from a tokenizer", () => {
  it("use only normal pieces and encode to exactly the sampled lengths, reproducibly", () => {
    const tok = mergingTokenizer();
    expect(normalPieceIds(tok)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    const p = { count: 50, promptTokens: { mean: 40, stddev: 10 }, maxTokens: { mean: 8, stddev: 0 }, seed: 1 };
    const a = synthesizeTextPrompts(tok, p);
    expect(synthesizeTextPrompts(tok, p)).toEqual(a);
    const lengths = synthesizeTokenPrompts({ ...p, vocabRange: DEFAULT_VOCAB_RANGE }).map((r) => r.promptTokens);
    a.forEach((r, i) => {
      expect(typeof r.prompt).toBe("string");
      expect(tok.encode(r.prompt as string).length).toBe(r.promptTokens);
      expect(r.promptTokens).toBe(lengths[i]); // same length schedule as token-id prompts
    });
  });
});
