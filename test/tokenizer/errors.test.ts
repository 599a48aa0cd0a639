import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TokenizerError } from "../../model/errors.js";
import { Prng } from "../../factory/corpus.js";
import { encodeModelProto, loadTokenizer, PieceType, SpmModelType } from "../../model/tokenizer/index.js";

const GROK = path.resolve(process.cwd(), "../shared/grok-1/tokenizer.model");
const dir = mkdtempSync(path.join(tmpdir(), "moe-tok-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array): string {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

async function loadError(p: string): Promise<TokenizerError> {
  const err = await loadTokenizer({ kind: "spm-file", path: p }).then(
    () => new Error("loaded"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenizerError);
  const te = err as TokenizerError;
  expect(te.code).toBe("TOKENIZER");
  expect(te.file).toBe(p);
  expect(te.message).toContain(p);
  return te;
}

describe("corrupt or missing tokenizer files", () => {
  const grok = readFileSync(GROK);
  const r = new Prng(7);
  const seeded = Uint8Array.from({ length: 4096 }, () => r.int(256));

  it("missing file", async () => {
    const err = await loadError(path.join(dir, "nope", "tokenizer.model"));
    expect(err.message).toMatch(/ENOENT/);
    expect(err.fix).toBeTruthy();
  });

  it("empty file", async () => {
    await loadError(file("empty.model", new Uint8Array(0)));
  });

  it("random bytes", async () => {
    for (const n of [1, 7, 64, 997, 4096]) await loadError(file(`random-${n}.model`, seeded.subarray(0, n)));
  });

  it("truncated tokenizer.model", async () => {
    for (const n of [1, 10, 1000, 100_000, grok.length - 1]) {
      const err = await loadError(file(`truncated-${n}.model`, grok.subarray(0, n)));
      expect(err.message).toMatch(/not a SentencePiece model|incomplete SentencePiece model/);
    }
  });

  it("a ModelProto that sentencepiece rejects (no [UNK])", async () => {
    const bytes = encodeModelProto({
      pieces: [{ piece: "a", score: 0, type: PieceType.NORMAL }],
      trainerSpec: { modelType: SpmModelType.BPE, vocabSize: 1 },
      normalizerSpec: { name: "identity" },
    });
    const err = await loadError(file("no-unk.model", bytes));
    expect(err.message).toMatch(/unk/i);
  });

  it("a directory instead of a file", async () => {
    await loadError(dir);
  });
});
