/** The public reference model (../shared/grok-1/reference) read through both formats. */
import { statSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import {
  checkTensors,
  configFromGguf,
  f16ToF32,
  f32ToF16Bytes,
  GgufReader,
  loadConfigJson,
  modelTensors,
  openGguf,
  openModel,
  openSafetensors,
  quantizeQ8_0,
} from "../../model/index.js";
import { REF_CONFIG, REF_F32, REF_Q8, REF_ST } from "./helpers.js";

describe("public reference grok-public-b", () => {
  const f32 = openGguf(REF_F32);
  const q8 = openGguf(REF_Q8);
  const st = openSafetensors(REF_ST);
  afterAll(() => [f32, q8, st].forEach((r) => r.close()));

  it("parses the GGUF header: v3, 29 / 30 KV pairs, 38 tensors, row-major shapes", () => {
    expect(f32.version).toBe(3);
    expect(f32.kv.length).toBe(29);
    expect(q8.kv.length).toBe(30);
    expect(f32.tensors().length).toBe(38);
    expect(f32.metadata.get("general.architecture")).toBe("grok");
    const tokens = f32.metadata.get("tokenizer.ggml.tokens") as string[];
    expect(tokens.length).toBe(512);
    expect(tokens.slice(0, 5)).toEqual(["[PAD]", "[BOS]", "[EOS]", "[UNK]", "<0x00>"]);
    expect(f32.kv.find((k) => k.key === "tokenizer.ggml.scores")).toMatchObject({ type: "array", arrayType: "f32" });
    expect(f32.info("blk.0.ffn_down_exps.weight").shape).toEqual([8, 128, 48]);
    expect(f32.info("blk.0.attn_k.weight").shape).toEqual([32, 128]);
    expect(q8.info("blk.0.attn_q.weight").dtype).toBe("Q8_0");
    expect(q8.info("blk.0.ffn_down_exps.weight").dtype).toBe("F16");
    expect(q8.info("blk.0.ffn_gate_inp.weight").dtype).toBe("F32");
    expect(st.metadata.get("format")).toBe("pt");
  });

  it("GGUF F32 and safetensors hold byte-identical data for all 38 tensors", () => {
    expect(st.tensors().map((t) => t.name)).toEqual(f32.tensors().map((t) => t.name));
    for (const t of f32.tensors()) {
      const s = st.info(t.name);
      expect(s.shape, t.name).toEqual(t.shape);
      expect(s.dtype).toBe("F32");
      expect(Buffer.from(st.readRaw(t.name).bytes).equals(Buffer.from(f32.readRaw(t.name).bytes)), t.name).toBe(true);
    }
  });

  it("Q8_0 GGUF dequantises within one Q8_0 step of the F32 values (F16 tensors exactly rounded)", () => {
    for (const t of f32.tensors()) {
      const exact = f32.readF32(t.name);
      const info = q8.info(t.name);
      const deq = q8.readF32(t.name);
      expect(deq.length).toBe(exact.length);
      if (info.dtype === "F32") expect(deq).toEqual(exact);
      else if (info.dtype === "F16") expect(Buffer.from(q8.readRaw(t.name).bytes).equals(Buffer.from(f32ToF16Bytes(exact)))).toBe(true);
      else {
        const raw = q8.readRaw(t.name).bytes;
        let worst = 0; // largest |error| / step over the tensor
        for (let b = 0; b < exact.length / 32; b++) {
          const d = f16ToF32(raw[34 * b]! | (raw[34 * b + 1]! << 8));
          for (let j = 0; j < 32; j++) worst = Math.max(worst, Math.abs(deq[32 * b + j]! - exact[32 * b + j]!) / d);
        }
        expect(worst, t.name).toBeLessThanOrEqual(1);
      }
    }
  });

  it("our Q8_0 quantiser reproduces the reference Q8_0 bytes exactly", () => {
    const q = q8.tensors().filter((t) => t.dtype === "Q8_0");
    expect(q.length).toBe(19);
    for (const t of q) expect(Buffer.from(quantizeQ8_0(f32.readF32(t.name))).equals(Buffer.from(q8.readRaw(t.name).bytes)), t.name).toBe(true);
  });

  it("config from GGUF metadata equals config.json (dModel 128, 3 layers, 8/2 heads of 16, 8 experts, ffn 48, vocab 512)", () => {
    const fromGguf = configFromGguf(f32);
    const fromJson = loadConfigJson(REF_CONFIG);
    expect(fromGguf).toMatchObject({ dModel: 128, nLayers: 3, nHeads: 8, nKvHeads: 2, headDim: 16, nExperts: 8, nExpertsUsed: 2, ffnDim: 48, vocabSize: 512 });
    // config.json has no add_bos_token (the xAI default, false); the GGUF says true.
    expect({ ...fromGguf, addBos: false }).toEqual(fromJson);
    expect(fromGguf.addBos).toBe(true);
    expect(fromGguf.rmsEps).toBe(1e-5); // stored as f32, read back as the decimal
    expect(configFromGguf(q8)).toEqual(fromGguf);
    for (const r of [f32, q8, st]) checkTensors(r, fromJson, REF_CONFIG);
    expect(modelTensors(fromJson).length).toBe(38);
  });

  it("openModel on the GGUF file uses metadata as config and the embedded vocabulary", () => {
    const m = openModel(REF_Q8);
    try {
      expect(m.config.name).toBe("grok-public-b");
      expect(m.dir).toBeUndefined();
      expect(m.tokenizer.kind).toBe("gguf-vocab");
      if (m.tokenizer.kind === "gguf-vocab") {
        expect(m.tokenizer.tokens.length).toBe(512);
        expect(m.tokenizer.types.slice(0, 5)).toEqual([3, 3, 3, 2, 6]);
        expect(m.tokenizer.scores[261]).toBe(-1);
        expect(m.tokenizer).toMatchObject({ bosId: 1, eosId: 2, unkId: 3, padId: 0, addBos: true, file: REF_Q8 });
      }
    } finally {
      m.close();
    }
  });

  it("range reads: one expert of one layer's ffn_gate_exps reads exactly its slice", () => {
    const r = GgufReader.open(REF_F32);
    try {
      const info = r.info("blk.1.ffn_gate_exps.weight");
      const before = r.bytesRead;
      const whole = r.readF32("blk.1.ffn_gate_exps.weight");
      expect(r.bytesRead - before).toBe(info.byteLength);
      const slice = info.byteLength / 8;
      const b2 = r.bytesRead;
      const e5 = r.readRaw("blk.1.ffn_gate_exps.weight", 5);
      expect(r.bytesRead - b2).toBe(slice);
      expect(slice).toBe(48 * 128 * 4);
      expect(slice).toBeLessThan(statSync(REF_F32).size / 100);
      expect(e5.shape).toEqual([48, 128]);
      expect(r.readF32("blk.1.ffn_gate_exps.weight", 5)).toEqual(whole.subarray(5 * 48 * 128, 6 * 48 * 128));
      // the same on the Q8_0 file: one expert = 48 rows × 4 blocks × 34 bytes
      const q = GgufReader.open(REF_Q8);
      const b3 = q.bytesRead;
      q.readRaw("blk.1.ffn_gate_exps.weight", 7);
      expect(q.bytesRead - b3).toBe(48 * 4 * 34);
      q.close();
      // and on safetensors
      const s = openSafetensors(REF_ST);
      const b4 = s.bytesRead;
      expect(s.readF32("blk.1.ffn_gate_exps.weight", 5)).toEqual(whole.subarray(5 * 48 * 128, 6 * 48 * 128));
      expect(s.bytesRead - b4).toBe(slice);
      s.close();
      expect(() => r.readRaw("blk.1.ffn_gate_exps.weight", 8)).toThrow(/expert 8 out of range/);
      expect(() => r.readRaw("blk.1.attn_q.weight", 0)).toThrow(/not a stacked/);
    } finally {
      r.close();
    }
  });
});
