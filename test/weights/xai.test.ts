/**
 * xAI's Grok-1 checkpoint format read directly (XAI_CHECKPOINT.md): the shipped xai-public-b
 * (written by CPython pickle + numpy + ml_dtypes) re-pickles byte for byte and serves its reference
 * logits; a 12-layer checkpoint written by the test (lexicographic layer order, G = 8 row-parallel
 * scales on whole 32-blocks) serves through MatMulNBits with exactly its int8·bf16 weights, matching
 * the float64 reference; `convert` copies those weights into a Q8_0 GGUF without re-rounding.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTokenizerModel, convertModel, pickleXaiLeaf, quantizeXai, writeXaiCheckpoint, type XaiLeafInput } from "../../factory/index.js";
import {
  bf16ToF32,
  dequantizeQ8_0,
  Engine,
  GROK_DEFAULTS,
  loadConfigJson,
  loadServingModel,
  openModel,
  parseModelConfig,
  q8_0ToNBits,
  readPickle,
  XaiCheckpointReader,
  xaiLeafValue,
  type LoadedModel,
  type ModelConfig,
} from "../../model/index.js";
import { RandomAccessFile } from "../../model/weights/tensor-file.js";
import { argmax, maxAbsDiff, maxAbsDiffAt, readF32LE, relMaxError } from "../reference/compare.js";
import { GrokReference } from "../reference/grok-ref.js";
import { greedyAgainstReference } from "../reference/greedy.js";
import { REF_DIR, tempDirs } from "./helpers.js";
import { MOE_CLI } from "../moe-cli.js";

const XAI_B = path.join(REF_DIR, "xai-public-b");
const tmp = tempDirs("moe-xai-");
afterAll(() => tmp.cleanup());

/** A model dir for the shipped checkpoint: links to its ckpt-0 and to the reference config.json. */
function publicB(withConfig = true): string {
  const d = tmp.make();
  symlinkSync(path.join(XAI_B, "ckpt-0"), path.join(d, "ckpt-0"));
  if (withConfig) symlinkSync(path.join(REF_DIR, "config.json"), path.join(d, "config.json"));
  return d;
}

describe("the shipped xai-public-b checkpoint", () => {
  it("every file re-pickles byte for byte (the writer is CPython's pickle protocol 4 + numpy 1.x + ml_dtypes)", () => {
    const dir = path.join(XAI_B, "ckpt-0");
    const files = readdirSync(dir).sort();
    expect(files.length).toBe(38);
    for (const f of files) {
      const file = path.join(dir, f);
      const raf = new RandomAccessFile(file);
      let leaf: XaiLeafInput;
      try {
        const v = xaiLeafValue(file, readPickle(raf));
        const arr = (a: { dtype: "f32" | "bf16" | "i8"; shape: readonly number[]; data: { offset: number; length: number } }) => ({ dtype: a.dtype, shape: a.shape, data: raf.readAt(a.data.offset, a.data.length, f) });
        leaf = v.kind === "array" ? { kind: "array", array: arr(v.array) } : { kind: "quantized", weight: arr(v.weight), scales: arr(v.scales) };
      } finally {
        raf.close();
      }
      const ours = Buffer.concat(pickleXaiLeaf(leaf));
      expect(Buffer.compare(ours, readFileSync(file)), f).toBe(0);
    }
  });

  it("maps files to tensors in jax order, with xAI's shapes transposed to [out, in]", () => {
    const r = XaiCheckpointReader.open(XAI_B);
    expect(r.nLayers).toBe(3);
    expect(r.fileOf("token_embd.weight")).toMatch(/tensor00000_000$/);
    expect(r.fileOf("blk.0.ffn_gate_exps.weight")).toMatch(/tensor00002_000$/);
    expect(r.fileOf("blk.1.ffn_gate_inp.weight")).toMatch(/tensor00025_000$/);
    expect(r.info("blk.2.ffn_down_exps.weight").shape).toEqual([8, 128, 48]);
    expect(r.info("blk.2.ffn_gate_inp.weight").shape).toEqual([8, 128]);
    // groups of 16 (attn_output) and 6 (ffn_down) rows are not whole 32-blocks: exact f32; the rest exact Q8_0
    expect(r.info("blk.0.attn_output.weight").dtype).toBe("F32");
    expect(r.info("blk.0.ffn_down_exps.weight").dtype).toBe("F32");
    for (const n of ["attn_q", "attn_k", "attn_v", "ffn_gate_exps", "ffn_up_exps"]) expect(r.info(`blk.1.${n}.weight`).dtype).toBe("Q8_0");
  });

  it("without config.json it asks for one (the head size is not in the shapes)", () => {
    expect(() => openModel(publicB(false))).toThrow(/query width 128 .* not multiples of Grok-1's head size 128.*put a config\.json/);
  });

  it("serves its reference: last-prompt logits, greedy path and teacher-forced steps", async () => {
    const m = openModel(publicB());
    const engine = await Engine.create(m.config, m.weights, { threads: 1, exactQ8: true });
    try {
      expect(m.config).toEqual(loadConfigJson(path.join(REF_DIR, "config.json")));
      expect(m.tokenizer.kind).toBe("none");
      const prompts = JSON.parse(readFileSync(path.join(REF_DIR, "prompts.json"), "utf8")) as number[][];
      const results = JSON.parse(readFileSync(path.join(XAI_B, "reference/results.json"), "utf8")) as {
        prompts: { continuation: number[]; steps: { top10_ids: number[]; top10_logits: number[] }[] }[];
      };
      for (let i = 0; i < 3; i++) {
        const seq = engine.newSequence();
        let logits = await engine.forward([{ seq, tokens: prompts[i]! }]);
        expect(maxAbsDiff(logits, readF32LE(path.join(XAI_B, `reference/p${i}.logits.bin`)))).toBeLessThanOrEqual(2e-3);
        const got: number[] = [];
        const want = results.prompts[i]!;
        for (let k = 0; k < want.continuation.length; k++) {
          expect(maxAbsDiffAt(logits, want.steps[k]!.top10_ids, want.steps[k]!.top10_logits)).toBeLessThanOrEqual(2e-3);
          got.push(argmax(logits));
          logits = await engine.forward([{ seq, tokens: [want.continuation[k]!] }]);
        }
        expect(got).toEqual(want.continuation);
        engine.release(seq);
      }
    } finally {
      await engine.close();
      m.close();
    }
  });
});

/** 12 layers (files in the order 0, 1, 10, 11, 2, …), width 256: every scale group is whole 32-blocks. */
const CFG: ModelConfig = parseModelConfig(
  {
    name: "grok-xai-test",
    vocabSize: 512,
    dModel: 256,
    nLayers: 12,
    nHeads: 8,
    nKvHeads: 2,
    headDim: 32,
    nExperts: 4,
    nExpertsUsed: 2,
    ffnDim: 256,
    contextLength: 256,
    ...GROK_DEFAULTS,
    bosId: 1,
    eosId: 2,
    padId: 0,
    unkId: 3,
    addBos: false,
    tiedEmbeddings: true,
  },
  "test",
);

describe("a checkpoint written by the test in xAI's format", () => {
  let dir: string;
  let m: LoadedModel;
  beforeAll(() => {
    dir = tmp.make();
    writeXaiCheckpoint(CFG, 17, dir);
    writeFileSync(path.join(dir, "config.json"), JSON.stringify(CFG));
    writeFileSync(path.join(dir, "tokenizer.model"), buildTokenizerModel(CFG.vocabSize));
    m = openModel(dir);
  }, 120_000);
  afterAll(() => m?.close());


  it("has 2 + 12·12 pickles, layers in lexicographic order", () => {
    const files = readdirSync(path.join(dir, "ckpt-0")).sort();
    expect(files.length).toBe(146);
    expect(files[145]).toBe("tensor00145_000");
    const r = m.weights as XaiCheckpointReader;
    expect(r.fileOf("blk.10.ffn_gate_exps.weight")).toMatch(/tensor00026_000$/);
    expect(r.fileOf("blk.2.ffn_gate_exps.weight")).toMatch(/tensor00050_000$/);
    expect(r.fileOf("blk.9.ffn_gate_inp.weight")).toMatch(/tensor00145_000$/);
    expect(readFileSync(r.fileOf("blk.3.attn_output.weight")).subarray(0, 3)).toEqual(Buffer.from("\x80\x04\x95", "latin1"));
    expect(readFileSync(r.fileOf("blk.3.attn_output.weight")).includes(Buffer.from("\x8c\x08__main__\x94\x8c\x13QuantizedWeight8bit\x94", "latin1"))).toBe(true);
  });

  it("reads back exactly the int8 × bf16 weights it wrote; as Q8_0, whose blocks dequantise to the same values", () => {
    const r = m.weights as XaiCheckpointReader;
    for (const name of ["blk.3.attn_output.weight", "blk.10.ffn_down_exps.weight", "blk.0.attn_k.weight"]) {
      const info = r.info(name);
      expect(info.dtype).toBe("Q8_0");
      const { q, scales, groups } = r.readQuantized(name, info.shape.length === 3 ? 2 : undefined);
      expect(groups).toBe(name.includes("output") || name.includes("down") ? 8 : 1);
      const [N, K] = info.shape.slice(-2) as [number, number];
      const f = r.readF32(name, info.shape.length === 3 ? 2 : undefined);
      for (let n = 0; n < N; n += 7) for (let k = 0; k < K; k += 5) expect(f[n * K + k]).toBe(q[k * N + n]! * scales[Math.floor(k / (K / groups)) * N + n]!);
      const blocks = r.readRaw(name, info.shape.length === 3 ? 2 : undefined);
      expect(blocks.dtype).toBe("Q8_0");
      expect(Array.from(dequantizeQ8_0(blocks.bytes))).toEqual(Array.from(f));
      // what MatMulNBits holds: code = q + 128 (zero point 128), scale = s repeated over its group's 32-blocks
      const nb = q8_0ToNBits(blocks.bytes, N, K);
      for (let n = 0; n < N; n += 3)
        for (let k = 0; k < K; k += 11) {
          expect(nb.codes[n * K + k]! - 128).toBe(q[k * N + n]);
          expect(nb.scales[n * (K / 32) + Math.floor(k / 32)]).toBe(scales[Math.floor(k / (K / groups)) * N + n]);
        }
    }
    // quantizeXai's scales are bf16(absmax / 127) per (group, column)
    const w = new Float32Array(2 * 64).map((_, i) => Math.sin(i) * (i % 64 < 32 ? 1 : 0.01));
    const { scales } = quantizeXai(w, [2, 64], 2);
    const s = (i: number) => bf16ToF32(scales.data[2 * i]! | (scales.data[2 * i + 1]! << 8));
    expect(s(0)).toBeGreaterThan(100 * s(2));
  });

  it("the engine (MatMulNBits on the exact weights) matches the float64 reference through 16 decode steps", async () => {
    const engine = await Engine.create(m.config, m.weights, { threads: 1, exactQ8: true });
    const ref = new GrokReference(m.config, m.weights);
    try {
      const r = await greedyAgainstReference(engine, ref, [1, 77, 300, 12, 499, 260, 31], 16);
      expect(r.mismatches).toEqual([]);
      expect(r.worst).toBeLessThanOrEqual(1e-3);
    } finally {
      await engine.close();
    }
  });

  it("converts to a Q8_0 GGUF copying every int8 matrix byte for byte (only the f32 embedding is re-quantised); to f32 with the same logits", async () => {
    const out = path.join(tmp.make(), "grok-xai-test.q8_0.gguf");
    const r = convertModel({ from: dir, to: out, dtype: "q8_0" });
    expect(r.vocab).toBe(true);
    expect(r.reencoded).toEqual(["token_embd.weight"]); // xAI keeps the embedding in f32
    // q, k, v, o and the three expert matrices of every layer: copied, not re-rounded
    expect(r.copied.filter((n) => /\.(attn_(q|k|v|output)|ffn_(gate|up|down)_exps)\.weight$/.test(n)).length).toBe(7 * CFG.nLayers);
    const f32 = path.join(tmp.make(), "grok-xai-test.f32.gguf");
    const r32 = convertModel({ from: dir, to: f32, dtype: "f32" });
    expect(r32.reencoded).toEqual([]);
    const prompt = [1, 5, 200, 201, 7];
    const run = async (p: string) => {
      const s = await loadServingModel(p, { threads: 1, exactQ8: true });
      try {
        return { ids: s.tokenizer.encode("the cat sat on the mat"), logits: await s.engine.forward([{ seq: s.engine.newSequence(), tokens: prompt }]) };
      } finally {
        await s.close();
      }
    };
    const direct = await run(dir);
    const viaF32 = await run(f32);
    expect(viaF32.ids).toEqual(direct.ids); // the tokenizer.model's vocabulary, embedded
    expect(direct.ids.length).toBeGreaterThan(3);
    expect(relMaxError(viaF32.logits, direct.logits)).toBeLessThanOrEqual(1e-3);
    // the Q8_0 file holds the same matrices (only the embedding was re-quantised): same numbers as the checkpoint with a Q8_0 embedding
    const q8 = openModel(out);
    try {
      const src = m.weights;
      for (const name of ["blk.11.attn_output.weight", "blk.4.ffn_up_exps.weight"]) expect(Buffer.compare(q8.weights.readRaw(name, name.includes("exps") ? 1 : undefined).bytes, src.readRaw(name, name.includes("exps") ? 1 : undefined).bytes)).toBe(0);
    } finally {
      q8.close();
    }
  });

  it("moe model convert and moe model inspect on the checkpoint directory", () => {
    const out = path.join(tmp.make(), "c.gguf");
    const moe = (...args: string[]) => spawnSync(process.execPath, [...MOE_CLI, ...args], { cwd: process.cwd(), encoding: "utf8", timeout: 120_000 });
    const c = moe("model", "convert", "--from", dir, "--to", out, "--dtype", "q8_0");
    expect(c.status).toBe(0);
    expect(c.stdout).toMatch(/wrote .*c\.gguf \([\d,]+ bytes, 146 tensors, q8_0, vocabulary embedded\)/);
    // 84 int8 matrices (exact Q8_0) + 61 f32 norms and routers copied; the f32 embedding is quantised
    expect(c.stdout).toContain("145 tensors copied byte for byte; 1 re-encoded with rounding: token_embd.weight");
    const i = moe("model", "inspect", dir);
    expect(i.status).toBe(0);
    expect(i.stdout).toContain("format:       xAI checkpoint (146 pickles in");
    expect(i.stdout).toMatch(/blk\.10\.ffn_down_exps\.weight\s+\[4, 256, 256\]\s+Q8_0/);
    expect(i.stdout).toContain("check: ok");
  });
});

describe("broken checkpoints are named", () => {
  let src: string;
  beforeAll(() => {
    src = tmp.make();
    writeXaiCheckpoint({ ...CFG, nLayers: 1 }, 3, src);
  });
  const copy = () => {
    const d = tmp.make();
    mkdirSync(path.join(d, "ckpt-0"));
    for (const f of readdirSync(path.join(src, "ckpt-0"))) copyFileSync(path.join(src, "ckpt-0", f), path.join(d, "ckpt-0", f));
    writeFileSync(path.join(d, "config.json"), JSON.stringify({ ...CFG, nLayers: 1 }));
    return d;
  };

  it("a missing file, a truncated file, a foreign class, files swapped", () => {
    let d = copy();
    rmSync(path.join(d, "ckpt-0", "tensor00007_000"));
    expect(() => openModel(d)).toThrow(/holds 13 tensor files; a Grok checkpoint has 2 \+ 12 per layer/);
    d = copy();
    truncateSync(path.join(d, "ckpt-0", "tensor00004_000"), 5000);
    expect(() => openModel(d)).toThrow(/tensor00004_000: pickle bytes of \d+ bytes run past the end of the file/);
    d = copy();
    const f = path.join(d, "ckpt-0", "tensor00004_000");
    const bytes = readFileSync(f);
    bytes.write("builtins", bytes.indexOf(Buffer.from("__main__")), "latin1");
    writeFileSync(f, bytes);
    expect(() => openModel(d)).toThrow(/tensor00004_000: pickle names global 'builtins\.QuantizedWeight8bit' at byte \d+, which a Grok-1 checkpoint does not use; refusing to load it/);
    d = copy();
    // the router (slot 11, f32 [D, E]) where the attention norm (slot 7) belongs
    copyFileSync(path.join(src, "ckpt-0", "tensor00013_000"), path.join(d, "ckpt-0", "tensor00009_000"));
    expect(() => openModel(d)).toThrow(/tensor00009_000: .*rms_norm\/scale has canonical shape \[256, 4\], which does not fit d_model 256/);
  });
});
