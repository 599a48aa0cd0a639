import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { TokenizerError } from "../../model/errors.js";
import { decodeModelProto, loadTokenizer, modelProtoFromVocab, PieceType, type Tokenizer, type TokenizerSource } from "../../model/tokenizer/index.js";

const GGUF = path.resolve(process.cwd(), "../shared/grok-1/reference/grok-public-b.f32.gguf");

/**
 * Minimal GGUF v3 metadata reader, local to this test so that it does not depend on the weights
 * reader: magic, version u32, tensor_count u64, kv_count u64, then key (u64 length + UTF-8),
 * value type u32 and value.
 */
function readGgufMetadata(file: string): Map<string, unknown> {
  const buf = readFileSync(file);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  const u32 = () => ((off += 4), dv.getUint32(off - 4, true));
  const u64 = () => ((off += 8), Number(dv.getBigUint64(off - 8, true)));
  const str = () => {
    const n = u64();
    off += n;
    return buf.toString("utf8", off - n, off);
  };
  const value = (type: number): unknown => {
    switch (type) {
      case 0: return dv.getUint8(off++);
      case 1: return dv.getInt8(off++);
      case 2: return (off += 2), dv.getUint16(off - 2, true);
      case 3: return (off += 2), dv.getInt16(off - 2, true);
      case 4: return u32();
      case 5: return (off += 4), dv.getInt32(off - 4, true);
      case 6: return (off += 4), dv.getFloat32(off - 4, true);
      case 7: return dv.getUint8(off++) !== 0;
      case 8: return str();
      case 9: {
        const itemType = u32();
        const n = u64();
        return Array.from({ length: n }, () => value(itemType));
      }
      case 10: return u64();
      case 11: return (off += 8), Number(dv.getBigInt64(off - 8, true));
      case 12: return (off += 8), dv.getFloat64(off - 8, true);
      default: throw new Error(`${file}: unknown GGUF value type ${type} at byte ${off}`);
    }
  };
  if (buf.toString("latin1", 0, 4) !== "GGUF") throw new Error(`${file}: not a GGUF file`);
  off = 4;
  const version = u32();
  if (version !== 3) throw new Error(`${file}: GGUF version ${version}, expected 3`);
  u64(); // tensor_count
  const kvCount = u64();
  const kv = new Map<string, unknown>();
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    kv.set(key, value(u32()));
  }
  return kv;
}

function ggufSource(file: string): Extract<TokenizerSource, { kind: "gguf-vocab" }> {
  const kv = readGgufMetadata(file);
  return {
    kind: "gguf-vocab",
    file,
    tokens: kv.get("tokenizer.ggml.tokens") as string[],
    scores: kv.get("tokenizer.ggml.scores") as number[],
    types: kv.get("tokenizer.ggml.token_type") as number[],
    bosId: kv.get("tokenizer.ggml.bos_token_id") as number,
    eosId: kv.get("tokenizer.ggml.eos_token_id") as number,
    unkId: kv.get("tokenizer.ggml.unknown_token_id") as number,
    padId: kv.get("tokenizer.ggml.padding_token_id") as number,
    addBos: kv.get("tokenizer.ggml.add_bos_token") as boolean,
  };
}

describe("GGUF vocabulary (reference grok-public-b)", () => {
  const src = ggufSource(GGUF);
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(src);
  });

  it("builds a 512-piece SentencePiece BPE model", () => {
    expect(tok.vocabSize).toBe(512);
    expect(tok.addBos).toBe(true);
    expect([tok.bosId, tok.eosId]).toEqual([1, 2]);
    expect(tok.idToPiece(260)).toBe("\u2581");
    const m = decodeModelProto(modelProtoFromVocab(src), GGUF);
    expect(m.trainerSpec.byteFallback).toBe(true);
    expect(m.trainerSpec.unkId).toBe(3);
    expect(m.normalizerSpec.removeExtraWhitespaces).toBe(false);
    expect(m.pieces.map((p) => p.piece)).toEqual(src.tokens);
  });

  it("text made of the vocabulary's pieces round-trips without byte fallback", () => {
    const words = src.tokens.filter((t, i) => src.types[i] === PieceType.NORMAL && /^\u2581[a-z]{3,}$/.test(t));
    expect(words.length).toBeGreaterThan(20);
    const text = words.map((w) => w.slice(1)).join(" ");
    const ids = tok.encode(text, { addBos: false });
    expect(ids.every((id) => id >= 260)).toBe(true);
    expect(tok.decode(ids)).toBe(text);
    const withBos = tok.encode(text);
    expect(withBos).toEqual([1, ...ids]);
    expect(tok.decode(withBos)).toBe(text);
  });

  it("uses merges: common words encode to fewer ids than characters", () => {
    expect(tok.encode("the", { addBos: false })).toEqual([src.tokens.indexOf("\u2581the")]);
    for (const w of ["experts", "weights", "attention"]) {
      expect(tok.encode(w, { addBos: false }).length).toBeLessThan(w.length);
    }
  });

  it("falls back to bytes for characters outside the vocabulary", () => {
    const text = "héllo 🤖 мир";
    const ids = tok.encode(text, { addBos: false });
    expect(ids.some((id) => id >= 4 && id < 260)).toBe(true);
    expect(tok.decode(ids)).toBe(text);
  });

  it("rejects inconsistent vocabularies with a TokenizerError naming the GGUF", async () => {
    const bad = [
      { ...src, scores: src.scores.slice(1) },
      { ...src, tokens: src.tokens.map((t, i) => (i === 300 ? src.tokens[301]! : t)) },
      { ...src, types: src.types.map((t) => (t === PieceType.UNKNOWN ? PieceType.CONTROL : t)) },
    ];
    for (const s of bad) {
      const err = await loadTokenizer(s).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TokenizerError);
      expect((err as TokenizerError).file).toBe(GGUF);
      expect((err as Error).message).toContain(GGUF);
    }
  });
});
