import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  DatasetError, datasetFormatOf, loadDataset, parseDataset, parseDatasetFormat, sampleDataset, shareGptJson, splitJsonArray, synthesizeShareGpt,
  type Dataset, type TokenCounter,
} from "../../loadtest/index.js";

const SHIPPED = "configs/datasets/sharegpt-tiny.json";
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Counts words: a stand-in tokenizer whose counts are easy to check by eye. */
const words: TokenCounter = { encode: (t) => t.split(/\s+/).filter(Boolean).map(() => 1) };

describe("the shipped synthetic ShareGPT file", () => {
  it("is what `moe dataset --conversations 200 --seed 0` writes (the project's own generator), byte for byte", () => {
    expect(shareGptJson(synthesizeShareGpt({ conversations: 200, seed: 0 }))).toBe(readFileSync(SHIPPED, "utf8"));
  });

  it("has ShareGPT's shape: human first, alternating turns, some single-turn entries that loaders skip", async () => {
    const ds = await loadDataset(SHIPPED);
    expect(ds.format).toBe("sharegpt");
    expect(ds.entries.length + ds.skipped).toBe(200);
    expect(ds.skipped).toBeGreaterThan(0);
    const raw = JSON.parse(readFileSync(SHIPPED, "utf8")) as Array<{ conversations: Array<{ from: string; value: string }> }>;
    for (const e of raw) e.conversations.forEach((t, i) => expect(t.from).toBe(i % 2 === 0 ? "human" : "gpt"));
    const lens = ds.entries.map((e) => words.encode(e.prompt as string).length);
    expect(Math.min(...lens)).toBeLessThan(10);
    expect(Math.max(...lens)).toBeGreaterThan(30);
  });
});

describe("parsing", () => {
  it("splits a top-level JSON array without being fooled by brackets, commas and escapes inside strings", () => {
    const text = ' [ {"a":"x, ] [ } {"}, {"b":"q\\"uo\\\\te\\" ]"} ,\n[1,[2]], "é,ü" ,3 ]  ';
    const parts = splitJsonArray(bytes(text)).map(([a, b]) => JSON.parse(new TextDecoder().decode(bytes(text).subarray(a, b))));
    expect(parts).toEqual([{ a: "x, ] [ } {" }, { b: 'q"uo\\te" ]' }, [1, [2]], "é,ü", 3]);
    expect(splitJsonArray(bytes("[]"))).toEqual([]);
    expect(() => splitJsonArray(bytes('[{"a":1},'))).toThrow(/not closed/);
    expect(() => splitJsonArray(bytes('{"a":1}'))).toThrow(/JSON array/);
  });

  it("reads ShareGPT as a JSON array or as JSONL: first turn = prompt, second = reply; fewer than two turns skipped", () => {
    const entries = [
      { conversations: [{ from: "human", value: "hi there" }, { from: "gpt", value: "hello you too" }, { from: "human", value: "more" }] },
      { conversations: [{ from: "human", value: "alone" }] },
      { id: "x", conversations: [{ from: "gpt", value: "starts with gpt" }, { from: "human", value: "ok" }] },
    ];
    const asArray = parseDataset(bytes(JSON.stringify(entries)), "sharegpt", "a.json");
    const asLines = parseDataset(bytes(entries.map((e) => JSON.stringify(e)).join("\n")), "sharegpt", "a.jsonl");
    for (const ds of [asArray, asLines]) {
      expect(ds.skipped).toBe(1);
      expect(ds.entries).toEqual([{ line: 1, prompt: "hi there", reply: "hello you too" }, { line: 3, prompt: "starts with gpt", reply: "ok" }]);
    }
  });

  it("reads JSONL prompts (text or token ids) with optional output_tokens (or max_tokens), skipping blank lines", () => {
    const ds = parseDataset(bytes('{"prompt":"a b c","output_tokens":7}\n\n{"prompt":[5,6,7]}\r\n{"prompt":"z","max_tokens":3}\n'), "jsonl", "p.jsonl");
    expect(ds.entries).toEqual([{ line: 1, prompt: "a b c", outputTokens: 7 }, { line: 3, prompt: [5, 6, 7] }, { line: 4, prompt: "z", outputTokens: 3 }]);
  });

  it("names the file, the line or entry and the field of what is wrong", () => {
    const bad = (text: string, format: "sharegpt" | "jsonl"): DatasetError => {
      try {
        parseDataset(bytes(text), format, "d.txt");
      } catch (e) {
        return e as DatasetError;
      }
      throw new Error("no error");
    };
    expect(bad('{"prompt":"ok"}\n{"prompt": 5}', "jsonl")).toMatchObject({ code: "LOADTEST_DATASET", file: "d.txt", line: 2, field: "prompt" });
    expect(bad('{"prompt":"ok"}\n{"prompt":"x","output_tokens":0}', "jsonl").message).toMatch(/d\.txt:2: 'output_tokens' must be an integer >= 1/);
    expect(bad('{"prompt":"ok"}\nnot json', "jsonl").message).toMatch(/d\.txt:2: not valid JSON/);
    expect(bad('[{"conversations":[{"from":"human","value":"a"},{"from":"gpt","value":"b"}]}, {"turns":[]}]', "sharegpt")).toMatchObject({ line: 2, field: "conversations" });
    expect(bad('[{"conversations":[{"from":"human","value":"a"},{"from":"gpt","value":3}]}]', "sharegpt").message).toMatch(/entry 1: conversations\[1\]\.value is not a string/);
    expect(bad('[{"conversations":[{"from":"human","value":"a"}]}]', "sharegpt").message).toMatch(/no usable entries.*fix: each conversation needs at least two turns/);
  });

  it("says which file cannot be read; picks the format from the name", async () => {
    await expect(loadDataset("/nonexistent/x.json")).rejects.toThrow(/cannot read dataset \/nonexistent\/x\.json: ENOENT/);
    expect(datasetFormatOf("a/b.JSONL")).toBe("jsonl");
    expect(datasetFormatOf("ShareGPT_V3.json")).toBe("sharegpt");
    expect(parseDatasetFormat("ShareGPT")).toBe("sharegpt");
    expect(() => parseDatasetFormat("csv")).toThrow(/--dataset-format must be 'sharegpt' or 'jsonl'/);
  });
});

describe("sampling", () => {
  const ds: Dataset = {
    file: "t.json", format: "sharegpt", skipped: 0,
    entries: Array.from({ length: 50 }, (_, i) => ({ line: i + 1, prompt: `prompt ${"w ".repeat(i % 7)}${i}`, reply: "r ".repeat(1 + (i % 5)) })),
  };
  const plan = { count: 20, seed: 3, maxTokens: { mean: 40, stddev: 0 }, tokenizer: words };

  it("is reproducible by seed and draws different entries for another seed", () => {
    const a = sampleDataset(ds, plan);
    expect(sampleDataset(ds, plan)).toEqual(a);
    expect(sampleDataset(ds, { ...plan, seed: 4 }).requests.map((r) => r.prompt)).not.toEqual(a.requests.map((r) => r.prompt));
    expect(new Set(a.requests.map((r) => r.prompt)).size).toBe(20);
    expect(a.requests.map((r) => r.index)).toEqual([...Array(20).keys()]);
  });

  it("takes lengths from the tokenizer (prompt, and the reply as max_tokens); without one, prompts are unknown and max_tokens comes from --max-tokens", () => {
    for (const r of sampleDataset(ds, plan).requests) {
      const i = Number((r.prompt as string).split(" ").at(-1));
      expect(r.promptTokens).toBe(2 + (i % 7));
      expect(r.maxTokens).toBe(1 + (i % 5));
    }
    const blind = sampleDataset(ds, { ...plan, tokenizer: undefined });
    expect(blind.requests.every((r) => r.promptTokens === null && r.maxTokens === 40)).toBe(true);
    const jsonl: Dataset = { file: "j", format: "jsonl", skipped: 0, entries: [{ line: 1, prompt: [1, 2, 3], outputTokens: 9 }, { line: 2, prompt: "a b" }] };
    const s = sampleDataset(jsonl, { count: 2, seed: 0, maxTokens: { mean: 5, stddev: 0 } });
    expect(s.requests.map((r) => [r.promptTokens, r.maxTokens]).sort()).toEqual([[3, 9], [null, 5]].sort());
  });

  it("skips entries that do not fit the context or are empty, cycles when the file has too few, and fails when none is usable", () => {
    const s = sampleDataset(ds, { ...plan, count: 120, maxModelLen: 8 });
    // fits when (2 + i%7) + (1 + i%5) <= 8
    const fits = ds.entries.filter((_, i) => 3 + (i % 7) + (i % 5) <= 8).length;
    expect(s.used).toBe(fits);
    expect(s.skipped).toBe(50 - fits);
    expect(s.requests).toHaveLength(120);
    expect(s.requests[fits]!.prompt).toBe(s.requests[0]!.prompt);
    for (const r of s.requests) expect(r.promptTokens! + r.maxTokens).toBeLessThanOrEqual(8);
    expect(() => sampleDataset(ds, { ...plan, maxModelLen: 2 })).toThrow(/none of its 50 entries is usable within the context of 2 tokens/);
    const empty: Dataset = { ...ds, entries: [{ line: 1, prompt: "", reply: "x" }] };
    expect(() => sampleDataset(empty, plan)).toThrow(DatasetError);
  });
});
