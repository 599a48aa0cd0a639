/** Strings in weight files are their bytes: a leading U+FEFF survives, invalid UTF-8 is named. */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateModel, grokGgufMetadata, writeGguf, writeSafetensors } from "../../factory/index.js";
import { f32ToBytes, openGguf, openModel, openSafetensors, presetConfig } from "../../model/index.js";
import { tempDirs } from "./helpers.js";

const tmp = tempDirs("moe-strings-");
afterAll(() => tmp.cleanup());

describe("byte-exact strings", () => {
  it("GGUF keys, values, array elements and tensor names keep a leading U+FEFF", () => {
    const file = path.join(tmp.make(), "bom.gguf");
    writeGguf(file, {
      metadata: [
        ["general.name", "\uFEFFname"],
        ["\uFEFFkey", "v"],
        ["list", ["\uFEFF\u200B", "\u200B", "\uFEFF"], "string"],
      ],
      tensors: [{ name: "\uFEFFt", dtype: "F32", shape: [2], data: f32ToBytes(new Float32Array([1, 2])) }],
    });
    const r = openGguf(file);
    try {
      expect(r.metadata.get("general.name")).toBe("\uFEFFname");
      expect(r.metadata.get("\uFEFFkey")).toBe("v");
      expect(r.metadata.get("list")).toEqual(["\uFEFF\u200B", "\u200B", "\uFEFF"]);
      expect(Array.from(r.readF32("\uFEFFt"))).toEqual([1, 2]);
      expect(r.invalidUtf8).toEqual([]);
    } finally {
      r.close();
    }
  });

  it("safetensors tensor names keep a leading U+FEFF; a header starting with one is rejected as JSON, not silently read", () => {
    const dir = tmp.make();
    const file = path.join(dir, "bom.safetensors");
    writeSafetensors(file, { tensors: [{ name: "\uFEFFw", dtype: "F32", shape: [2], data: f32ToBytes(new Float32Array([3, 4])) }] });
    const r = openSafetensors(file);
    try {
      expect(r.tensors().map((t) => t.name)).toEqual(["\uFEFFw"]);
      expect(r.find("w")).toBeUndefined();
      expect(Array.from(r.readF32("\uFEFFw"))).toEqual([3, 4]);
    } finally {
      r.close();
    }
    // the same header with a UTF-8 BOM in front of "{"
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    const bom = Buffer.concat([Buffer.alloc(8), Buffer.from([0xef, 0xbb, 0xbf]), bytes.subarray(8, 8 + n), bytes.subarray(8 + n)]);
    bom.writeBigUInt64LE(BigInt(n + 3), 0);
    const withBom = path.join(dir, "bom-header.safetensors");
    writeFileSync(withBom, bom);
    expect(() => openSafetensors(withBom)).toThrow(/not valid JSON/);
  });

  it("a GGUF vocabulary holding invalid UTF-8 leaves a token-ids-only tokenizer that says why", () => {
    const dir = tmp.make();
    const src = generateModel({ config: presetConfig("grok-1-tiny"), outDir: dir, format: "gguf", dtype: "f32", seed: 5 });
    const m = openModel(src.weightsPath);
    const file = path.join(dir, "bad-utf8.gguf");
    try {
      if (m.tokenizer.kind !== "gguf-vocab") throw new Error("expected an embedded vocabulary");
      const tokens = [...m.tokenizer.tokens];
      tokens[900] = "\u00ff\u00fe-marker"; // rewritten below to the invalid bytes FF FE
      const tensors = m.weights.tensors().map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: m.weights.readRaw(t.name).bytes }));
      writeGguf(file, { metadata: grokGgufMetadata(m.config, { fileType: 0, vocab: { tokens, scores: m.tokenizer.scores, types: m.tokenizer.types } }), tensors });
    } finally {
      m.close();
    }
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from("\u00ff\u00fe-marker", "utf8"));
    expect(at).toBeGreaterThan(0);
    // c3 bf c3 be → ff fe 20 20: same length, invalid UTF-8
    bytes.set([0xff, 0xfe, 0x20, 0x20], at);
    writeFileSync(file, bytes);
    const r = openGguf(file);
    expect(r.invalidUtf8).toEqual(["tokenizer.ggml.tokens"]);
    r.close();
    const bad = openModel(file);
    try {
      expect(bad.tokenizer.kind).toBe("none");
      if (bad.tokenizer.kind === "none") expect(bad.tokenizer.reason).toMatch(/tokenizer\.ggml\.tokens holds pieces that are not valid UTF-8/);
    } finally {
      bad.close();
    }
  });
});
