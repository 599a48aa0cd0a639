import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Prng } from "../../factory/corpus.js";
import { loadModelBytes, loadTokenizer, StreamDecoder, type Tokenizer } from "../../model/index.js";
import { buildTokenizerModel } from "../../factory/index.js";

const GROK = path.resolve(process.cwd(), "../shared/grok-1/tokenizer.model");
const TEXTS = [
  "héllo 🤖 мир",
  "emoji: 😀🎉👍🏽",
  "马斯克开源GROK-1模型意味着什么?",
  "日本語のテキストです。 Ελληνικά και Русский текст",
  " leading  spaces and trailing ",
  "   ",
  "a\n\nb\tc",
];

const isByte = (tok: Tokenizer, id: number) => /^<0x[0-9A-F]{2}>$/.test(tok.idToPiece(id));

/** Streams `ids` and checks the stream invariants; returns the pushes. */
function stream(tok: Tokenizer, ids: readonly number[]): string[] {
  const dec = new StreamDecoder(tok);
  const outs = ids.map((id) => dec.push(id));
  outs.push(dec.flush());
  expect(outs.join("")).toBe(tok.decode(ids));
  return outs;
}

describe.each([
  ["xAI tokenizer.model", () => loadTokenizer({ kind: "spm-file", path: GROK })],
  ["project tokenizer (1000)", () => loadModelBytes(buildTokenizerModel(1000), "tiny-1000", { addBos: true })],
])("StreamDecoder over %s", (_name, load) => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await load();
  });

  it("matches decode for multibyte text split at every byte piece", () => {
    for (const text of TEXTS) {
      const ids = tok.encode(text, { addBos: true });
      expect(ids.some((id) => isByte(tok, id)) || text.trim() === "" || /^[ -~\n\t]*$/.test(text)).toBe(true);
      const outs = stream(tok, ids);
      let sofar = "";
      for (let i = 0; i < ids.length; i++) {
        sofar += outs[i];
        // Never a partial character: every prefix is valid text without U+FFFD.
        expect(sofar).not.toContain("\ufffd");
        expect(text.startsWith(sofar)).toBe(true);
        // A byte piece that completes a character releases it at once.
        if (isByte(tok, ids[i]!) && (i + 1 === ids.length || !isByte(tok, ids[i + 1]!))) {
          expect(sofar).toBe(tok.decode(ids.slice(0, i + 1)));
        }
      }
      expect(outs.at(-1)).toBe("");
    }
  });

  it("streams text that starts with spaces, controls and byte runs exactly as decode", () => {
    const sp = tok.encode(" ", { addBos: false });
    const cases = [
      [tok.bosId, ...tok.encode("  two spaces", { addBos: false })],
      [...sp, ...sp, ...tok.encode("x", { addBos: false })],
      [tok.bosId, tok.eosId, ...tok.encode("🤖 robots", { addBos: false }), tok.eosId, ...tok.encode(" again", { addBos: false })],
    ];
    for (const ids of cases) stream(tok, ids);
  });

  it("holds back an incomplete UTF-8 tail until flush", () => {
    const ids = tok.encode("🤖", { addBos: false }).filter((id) => isByte(tok, id));
    expect(ids).toHaveLength(4);
    const dec = new StreamDecoder(tok);
    expect(dec.push(ids[0]!)).toBe("");
    expect(dec.push(ids[1]!)).toBe("");
    expect(dec.flush()).toBe(tok.decode(ids.slice(0, 2)));
    expect(dec.flush()).toBe("");
  });

  it("equals decode on random id sequences (controls, spaces, stray bytes)", () => {
    const r = new Prng(12345);
    const n = Math.min(tok.vocabSize, 2048);
    for (let trial = 0; trial < 60; trial++) {
      const ids = Array.from({ length: 1 + r.int(40) }, () => (r.int(4) === 0 ? 4 + r.int(400) : r.int(n)));
      stream(tok, ids);
    }
  });
});
