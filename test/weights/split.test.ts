/**
 * Split GGUFs (llama.cpp gguf-split layout): 2 and 3 parts load from the first file, any other
 * split or the directory, and give exactly the logits of the single file; a missing or inconsistent
 * split is named; `moe model inspect` lists the splits.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateModel, splitGguf, writeGguf } from "../../factory/index.js";
import { Engine, GGUF_SPLIT_KEYS, ggufSplitName, openGguf, openModel, SplitGgufReader, WeightFileError, type LoadedModel } from "../../model/index.js";
import { SMALL, tempDirs } from "./helpers.js";
import { MOE_CLI } from "../moe-cli.js";

const tmp = tempDirs("moe-split-");
let single: string;
const PROMPT = [1, 17, 250, 3, 99, 128, 311];

beforeAll(() => {
  // q8_0: the file mixes Q8_0, F16 and F32 tensors
  single = generateModel({ config: SMALL, outDir: tmp.make(), format: "gguf", dtype: "q8_0", seed: 21 }).weightsPath;
});
afterAll(() => tmp.cleanup());

async function logits(m: LoadedModel): Promise<Float32Array> {
  const e = await Engine.create(m.config, m.weights, { threads: 1 });
  try {
    const seq = e.newSequence();
    await e.forward([{ seq, tokens: PROMPT }]);
    return await e.forward([{ seq, tokens: [42] }]);
  } finally {
    await e.close();
  }
}

describe.each([2, 3])("a GGUF split into %i files", (parts) => {
  let dir: string;
  let files: string[];
  beforeAll(() => {
    dir = tmp.make();
    files = splitGguf(single, dir, "grok-small-Q8_0", { parts });
  });

  it("is written in gguf-split's layout: names, split keys, metadata only in the first", () => {
    expect(files.map((f) => path.basename(f))).toEqual(Array.from({ length: parts }, (_, i) => ggufSplitName("grok-small-Q8_0", i, parts)));
    expect(path.basename(files[0]!)).toBe(`grok-small-Q8_0-00001-of-0000${parts}.gguf`);
    const src = openGguf(single);
    let total = 0;
    try {
      files.forEach((f, i) => {
        const r = openGguf(f);
        try {
          expect(r.metadata.get(GGUF_SPLIT_KEYS.no)).toBe(i);
          expect(r.metadata.get(GGUF_SPLIT_KEYS.count)).toBe(parts);
          expect(r.metadata.get(GGUF_SPLIT_KEYS.tensors)).toBe(src.tensorCount);
          expect(r.kv.find((k) => k.key === GGUF_SPLIT_KEYS.no)!.type).toBe("u16");
          expect(r.kv.find((k) => k.key === GGUF_SPLIT_KEYS.tensors)!.type).toBe("i32");
          expect(r.metadata.has("general.architecture")).toBe(i === 0);
          total += r.tensorCount;
        } finally {
          r.close();
        }
      });
      expect(total).toBe(src.tensorCount);
    } finally {
      src.close();
    }
  });

  it("loads from the first file, a later split and the directory, with the single file's config, tensors and logits", async () => {
    const ref = openModel(single);
    try {
      const want = await logits(ref);
      for (const p of [files[0]!, files[parts - 1]!, dir]) {
        const m = openModel(p);
        try {
          expect(m.weights).toBeInstanceOf(SplitGgufReader);
          expect(m.config).toEqual(ref.config);
          expect(m.tokenizer.kind).toBe("gguf-vocab");
          expect(m.weights.tensors().map((t) => [t.name, t.dtype, t.shape])).toEqual(ref.weights.tensors().map((t) => [t.name, t.dtype, t.shape]));
          for (const t of ref.weights.tensors()) expect(Buffer.compare(m.weights.readRaw(t.name, t.shape.length === 3 ? 1 : undefined).bytes, ref.weights.readRaw(t.name, t.shape.length === 3 ? 1 : undefined).bytes)).toBe(0);
          expect(Array.from(await logits(m))).toEqual(Array.from(want));
        } finally {
          m.close();
        }
      }
    } finally {
      ref.close();
    }
  });
});

describe("broken split sets are named", () => {
  it("a missing split", () => {
    const dir = tmp.make();
    const files = splitGguf(single, dir, "m", { parts: 3 });
    rmSync(files[2]!);
    expect(() => openModel(files[0]!)).toThrow(WeightFileError);
    expect(() => openModel(files[0]!)).toThrow(`${files[2]}: split 3 of 3 of m-00001-of-00003.gguf is missing`);
    rmSync(files[0]!);
    expect(() => openModel(dir)).toThrow(/holds split GGUF files .* but not the first split/);
  });

  it("a split of another set, a wrong split.no, a tensor in two splits, a wrong tensor total", () => {
    const dir = tmp.make();
    const three = splitGguf(single, dir, "m", { parts: 3 });
    const other = tmp.make();
    const two = splitGguf(single, other, "m", { parts: 2 });
    copyFileSync(two[1]!, three[1]!); // split 2 of 2 where split 2 of 3 belongs
    expect(() => openModel(three[0]!)).toThrow(/m-00002-of-00003\.gguf: inconsistent split set: split\.count is 2, the first split says 3/);

    const src = openGguf(three[0]!);
    const t = src.storedTensors()[0]!;
    const data = src.readRaw(t.name).bytes;
    src.close();
    const one = [{ name: t.name, dtype: t.dtype, shape: t.shape, data }];
    const meta = (no: number, count: number, tensors: number) => [
      [GGUF_SPLIT_KEYS.no, no, "u16"],
      [GGUF_SPLIT_KEYS.count, count, "u16"],
      [GGUF_SPLIT_KEYS.tensors, tensors, "i32"],
    ] as const;
    const total = openGguf(three[0]!).metadata.get(GGUF_SPLIT_KEYS.tensors) as number;
    writeGguf(three[1]!, { metadata: meta(2, 3, total), tensors: [] });
    expect(() => openModel(three[0]!)).toThrow(/m-00002-of-00003\.gguf: inconsistent split set: split\.no is 2, expected 1/);
    writeGguf(three[1]!, { metadata: meta(1, 3, total), tensors: one });
    expect(() => openModel(three[0]!)).toThrow(new RegExp(`tensor '${t.name.replace(/\./g, "\\.")}' is in both m-00001-of-00003\\.gguf and m-00002-of-00003\\.gguf`));
    writeGguf(three[1]!, { metadata: meta(1, 3, total), tensors: [] });
    expect(() => openModel(three[0]!)).toThrow(/the 3 splits hold \d+ tensors, split\.tensors\.count says \d+/);
    expect(readdirSync(dir).filter((f) => f.endsWith(".partial"))).toEqual([]);
  });
});

describe("moe model inspect", () => {
  it("lists the splits", () => {
    const dir = tmp.make();
    const files = splitGguf(single, dir, "m", { parts: 3 });
    const r = spawnSync(process.execPath, [...MOE_CLI, "model", "inspect", files[0]!], { cwd: process.cwd(), encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("format:       GGUF v3, 3 splits");
    expect(r.stdout).toContain("splits (3, gguf-split layout; metadata in the first):");
    for (const f of files) expect(r.stdout).toContain(f);
    expect(r.stdout).toContain("check: ok");
  });
});
