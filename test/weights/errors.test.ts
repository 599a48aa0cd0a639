/** Corrupt, truncated and mismatched weight files: each fails with the file (and tensor) named. */
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { f32ToBytes, modelTensors, openGguf, openModel, openSafetensors, paramCount, WeightFileError } from "../../model/index.js";
import { generateModel, grokGgufMetadata, writeGguf, writeSafetensors } from "../../factory/index.js";
import { REF_F32, SMALL, tempDirs } from "./helpers.js";

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

/** Expect `fn` to throw a WeightFileError whose message matches every pattern. */
function expectError(fn: () => unknown, ...patterns: Array<string | RegExp>): WeightFileError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, "expected an error").toBeInstanceOf(WeightFileError);
  const msg = (err as Error).message;
  for (const p of patterns) typeof p === "string" ? expect(msg).toContain(p) : expect(msg).toMatch(p);
  return err as WeightFileError;
}

/** A small valid GGUF: tensors a [4, 48] F32 and b [2, 3, 32] F32, 2 KV pairs. */
function smallGguf(): string {
  const file = path.join(tmp.make(), "small.gguf");
  writeGguf(file, {
    metadata: [
      ["general.architecture", "grok"],
      ["x", [1, 2, 3]],
    ],
    tensors: [
      { name: "tensor_a", dtype: "F32", shape: [4, 48], data: f32ToBytes(new Float32Array(192).fill(1)) },
      { name: "tensor_b", dtype: "F32", shape: [2, 3, 32], data: f32ToBytes(new Float32Array(192).fill(2)) },
    ],
  });
  return file;
}

/** Byte offset of the u32 n_dims field in the tensor info of `name`. */
function tensorInfoAt(buf: Buffer, name: string): number {
  const key = Buffer.concat([Buffer.alloc(8), Buffer.from(name)]);
  key.writeBigUInt64LE(BigInt(name.length), 0);
  const at = buf.indexOf(key);
  if (at < 0) throw new Error(`no tensor info for ${name}`);
  return at + key.length;
}

function patched(src: string, patch: (b: Buffer) => void): string {
  const b = readFileSync(src);
  patch(b);
  const out = path.join(tmp.make(), path.basename(src));
  writeFileSync(out, b);
  return out;
}

describe("GGUF: bad input", () => {
  let file: string;
  beforeAll(() => {
    file = smallGguf();
  });

  it("bad magic", () => {
    const bad = patched(file, (b) => b.write("GGML", 0));
    expectError(() => openGguf(bad), bad, /not a GGUF file \(bad magic/);
  });

  it("accepts GGUF v2 (same little-endian layout as v3)", () => {
    const v2 = patched(file, (b) => b.writeUInt32LE(2, 4));
    const r = openGguf(v2);
    expect(r.version).toBe(2);
    expect(r.readF32("tensor_b", 1)).toEqual(new Float32Array(96).fill(2));
    r.close();
  });

  it("unsupported version", () => {
    const bad = patched(file, (b) => b.writeUInt32LE(1, 4));
    expectError(() => openGguf(bad), bad, "unsupported GGUF version 1");
  });

  it("truncated header", () => {
    const bad = patched(file, () => undefined);
    truncateSync(bad, 60);
    expectError(() => openGguf(bad), bad, /header truncated/);
  });

  it("truncated data (file cut short)", () => {
    const bad = patched(file, () => undefined);
    const { size } = { size: readFileSync(bad).length };
    truncateSync(bad, size - 100);
    expectError(() => openGguf(bad), bad, "tensor_b", /truncated/);
  });

  it("unknown dtype id", () => {
    const bad = patched(file, (b) => {
      const at = tensorInfoAt(b, "tensor_b");
      const nd = b.readUInt32LE(at);
      b.writeUInt32LE(12, at + 4 + 8 * nd);
    });
    const e = expectError(() => openGguf(bad), bad, "tensor_b", "dtype id 12", "Q4_K");
    expect(e.tensor).toBe("tensor_b");
    expect(e.file).toBe(bad);
  });

  it("absurd counts do not allocate: tensor count 2^40", () => {
    const bad = patched(file, (b) => b.writeBigUInt64LE(2n ** 40n, 8));
    expectError(() => openGguf(bad), bad, /tensor count is 1099511627776, more than the file can hold/);
  });

  it("absurd string length", () => {
    const bad = patched(file, (b) => b.writeBigUInt64LE(2n ** 50n, 24)); // first key's length
    expectError(() => openGguf(bad), bad, /length is .*more than the file can hold/);
  });

  it("misaligned tensor offset", () => {
    const bad = patched(file, (b) => {
      const at = tensorInfoAt(b, "tensor_b");
      const nd = b.readUInt32LE(at);
      const off = at + 4 + 8 * nd + 4;
      b.writeBigUInt64LE(b.readBigUInt64LE(off) + 4n, off);
    });
    expectError(() => openGguf(bad), bad, "tensor_b", /not a multiple of the alignment 32/);
  });

  it("shape larger than its bytes (tensors overlap)", () => {
    const bad = patched(file, (b) => b.writeBigUInt64LE(96n, tensorInfoAt(b, "tensor_a") + 4)); // ne0 48 -> 96
    expectError(() => openGguf(bad), bad, "tensor_a", /overlap/);
  });

  it("Q8_0 rows not a multiple of 32", () => {
    const bad = patched(file, (b) => {
      const at = tensorInfoAt(b, "tensor_a");
      b.writeUInt32LE(8, at + 4 + 8 * 2);
    });
    expectError(() => openGguf(bad), bad, "tensor_a", /rows of 48 values, not a multiple of 32/);
  });

  it("missing file", () => {
    const missing = path.join(tmp.make(), "nope.gguf");
    expectError(() => openGguf(missing), missing, /cannot open/);
  });
});

describe("model files that do not match their config", () => {
  it("missing tensor (a file without blk.1.attn_q.weight)", () => {
    const file = path.join(tmp.make(), "missing.gguf");
    const tensors = modelTensors(SMALL)
      .filter((t) => t.name !== "blk.1.attn_q.weight")
      .map((t) => ({ name: t.name, dtype: "F32" as const, shape: t.shape, data: new Uint8Array(4 * paramCount(t)) }));
    writeGguf(file, { metadata: grokGgufMetadata(SMALL, { fileType: 0 }), tensors });
    const e = expectError(() => openModel(file), file, "blk.1.attn_q.weight", /is missing/, "mismatched weight file");
    expect(e.tensor).toBe("blk.1.attn_q.weight");
  });

  it("mismatched shape vs config.json", () => {
    const dir = tmp.make();
    generateModel({ config: SMALL, outDir: dir, format: "gguf", dtype: "f32", seed: 1 });
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...SMALL, ffnDim: 64 }, null, 2));
    const gguf = path.join(dir, "model.gguf");
    expectError(() => openModel(dir), gguf, "mismatched weight file", "blk.0.ffn_gate_exps.weight", "has shape [4, 48, 64], expected [4, 64, 64]", "config.json");
  });

  it("reference GGUF checked against a config with another vocabulary", () => {
    const dir = tmp.make();
    copyFileSync(REF_F32, path.join(dir, "model.gguf"));
    writeFileSync(path.join(dir, "tokenizer.model"), "");
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ n_vocab: 1024, n_embd: 128, n_layer: 3, n_head: 8, n_head_kv: 2, head_dim: 16, n_expert: 8, n_expert_used: 2, n_ff: 48 }));
    expectError(() => openModel(dir), "model.gguf", "token_embd.weight", "has shape [512, 128], expected [1024, 128]");
  });
});

describe("safetensors: bad input", () => {
  function st(header: unknown, dataBytes: number, rawHeader?: string): string {
    const json = Buffer.from(rawHeader ?? JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const file = path.join(tmp.make(), "bad.safetensors");
    writeFileSync(file, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
    return file;
  }

  it("corrupt JSON header", () => {
    const f = st(null, 16, '{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]');
    expectError(() => openSafetensors(f), f, /JSON header is not valid JSON/);
  });

  it("header length beyond the file", () => {
    const f = path.join(tmp.make(), "short.safetensors");
    const b = Buffer.alloc(32);
    b.writeBigUInt64LE(1000n);
    writeFileSync(f, b);
    expectError(() => openSafetensors(f), f, /header length 1000 exceeds the file/);
  });

  it("data offsets out of range", () => {
    const f = st({ w: { dtype: "F32", shape: [8], data_offsets: [0, 32] } }, 16);
    expectError(() => openSafetensors(f), f, "'w'", /data_offsets \[0, 32\] lie outside the data section/);
  });

  it("offsets inconsistent with shape × dtype", () => {
    const f = st({ w: { dtype: "F16", shape: [8], data_offsets: [0, 32] } }, 32);
    expectError(() => openSafetensors(f), f, "'w'", /needs 16 bytes but data_offsets span 32/);
  });

  it("unknown dtype (I64)", () => {
    const f = st({ __metadata__: { format: "pt" }, ids: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }, 16);
    const e = expectError(() => openSafetensors(f), f, "'ids'", "unsupported safetensors dtype I64");
    expect(e.tensor).toBe("ids");
  });

  it("overlapping tensors", () => {
    const f = st({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] }, b: { dtype: "F32", shape: [4], data_offsets: [8, 24] } }, 24);
    expectError(() => openSafetensors(f), f, /overlap/);
  });

  it("truncated data (file cut short)", () => {
    const dir = tmp.make();
    const file = path.join(dir, "model.safetensors");
    writeSafetensors(file, { tensors: [{ name: "w", dtype: "F32", shape: [64], data: new Uint8Array(256) }] });
    truncateSync(file, readFileSync(file).length - 10);
    expectError(() => openSafetensors(file), file, "'w'", /truncated/);
  });
});
