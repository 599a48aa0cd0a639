/**
 * The gateway's start-up warm-up over the real single-process engine: the synthetic passes go
 * through the scheduler at its micro-batch sizes, every sequence is released, the clients' metrics
 * start at zero, output afterwards is unchanged, and a failing pass stops the start-up with a
 * WarmupError (the failure is injected: a real engine cannot fail on demand).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServingModel } from "../../model/index.js";
import { LocalBackend } from "../../stages/index.js";
import { WarmupError, warmupPrompt, warmupSequences } from "../../gateway/index.js";
import { MODEL, RecordingBackend, gatewayFor, loadTiny, post, scrape } from "./helpers.js";

let model: ServingModel;

beforeAll(async () => {
  model = await loadTiny();
});

afterAll(async () => {
  await model?.close();
});

async function complete(url: string, prompt: unknown): Promise<{ text: string; usage: unknown }> {
  const res = await post(`${url}/v1/completions`, { model: MODEL, prompt, max_tokens: 10, temperature: 0, ignore_eos: true });
  expect(res.status).toBe(200);
  const j = (await res.json()) as { choices: { text: string }[]; usage: unknown };
  return { text: j.choices[0]!.text, usage: j.usage };
}

describe("warm-up sizes", () => {
  it("16 requests per micro-batch in flight, at most the running limit", () => {
    expect(warmupSequences(64, 1)).toBe(16);
    expect(warmupSequences(64, 2)).toBe(32);
    expect(warmupSequences(20, 2)).toBe(20);
    expect(warmupSequences(1, 4)).toBe(1);
  });

  it("synthetic prompts start with BOS, stay in the vocabulary and differ between sequences", () => {
    const cfg = { bosId: 1, vocabSize: 50 };
    const a = warmupPrompt(cfg, 16, 0, 0);
    const b = warmupPrompt(cfg, 16, 0, 1);
    expect(a).toHaveLength(16);
    expect(a[0]).toBe(1);
    expect([...a, ...b].every((t) => Number.isInteger(t) && t >= 0 && t < 50)).toBe(true);
    expect(a).not.toEqual(b);
  });
});

describe("gateway warm-up over the engine", () => {
  it("runs its passes through the scheduler before listening, releases every sequence and keeps the clients' metrics at zero", async () => {
    const reference = await gatewayFor(model);
    const prompts: unknown[] = [[1, 42, 203, 17], "The answer to life"];
    const before = [];
    try {
      for (const p of prompts) before.push(await complete(reference.url, p));
    } finally {
      await reference.close();
    }
    // presented as a 2-deep pipeline: the scheduler spreads a pass over 2 micro-batches
    const backend = new RecordingBackend(new LocalBackend(model.engine), 2);
    const passes: number[] = [];
    const gw = await gatewayFor(model, { backend, warmup: { passes: 2 }, onWarmupPass: (p) => passes.push(p) });
    try {
      expect(passes).toEqual([1, 2]);
      expect(gw.warmup).toMatchObject({ passes: 2, sequences: 32, promptTokens: 2 * 32 * 16, generatedTokens: 2 * 32 * 32 });
      // every step before listening was the warm-up's: 16 prompt tokens + 31 decode tokens per sequence
      const rows = backend.steps.reduce((a, s) => a + s.reduce((b, it) => b + it.tokens.length, 0), 0);
      expect(rows).toBe(2 * 32 * 47);
      expect(backend.overlap).toBe(false);
      // decode micro-batches as the scheduler forms them for 32 running sequences on 2 stages: up to 16 rows each
      const decodeSizes = backend.steps.filter((s) => s.every((it) => it.tokens.length === 1)).map((s) => s.length);
      expect(Math.max(...decodeSizes)).toBe(16);
      expect(backend.maxConcurrent).toBe(2);
      expect(backend.liveSequences).toBe(0);
      const m = await scrape(gw.url);
      expect(m.get("moe_warmup_passes_total")).toBe(2);
      expect(m.get("moe_warmup_tokens_total")).toBe(2 * 32 * 32);
      expect(m.get("moe_generated_tokens_total")).toBe(0);
      expect(m.get("moe_prompt_tokens_total")).toBe(0);
      expect(m.get("moe_step_seconds_count")).toBe(0);
      expect(m.get("moe_kv_sequences")).toBe(0);
      // output after the warm-up equals a gateway that never warmed up
      for (let i = 0; i < prompts.length; i++) expect(await complete(gw.url, prompts[i])).toEqual(before[i]);
      expect((await scrape(gw.url)).get("moe_generated_tokens_total")).toBe(20);
    } finally {
      await gw.close();
    }
  });

  it("a failing pass rejects the start-up with a WarmupError naming the pass and the backend's error; nothing stays live", async () => {
    const backend = new RecordingBackend(new LocalBackend(model.engine), 1);
    backend.failNext = 1;
    const err = await gatewayFor(model, { backend, warmup: { passes: 3 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WarmupError);
    expect((err as Error).message).toMatch(/^warm-up pass 1 of 3 failed: .*injected stage failure/);
    expect(backend.liveSequences).toBe(0);
  });

  it("starts no pass after its time budget: maxSeconds 0 runs the first pass only, and says so", async () => {
    const backend = new RecordingBackend(new LocalBackend(model.engine), 1);
    const seen: number[] = [];
    const gw = await gatewayFor(model, { backend, warmup: { passes: 3, maxSeconds: 0 }, onWarmupPass: (p) => seen.push(p) });
    try {
      expect(seen).toEqual([1]);
      expect(gw.warmup).toMatchObject({ passes: 1, sequences: 16, promptTokens: 16 * 16, generatedTokens: 16 * 32 });
      expect((await scrape(gw.url)).get("moe_warmup_passes_total")).toBe(1);
      expect(backend.liveSequences).toBe(0);
    } finally {
      await gw.close();
    }
  });

  it("passes: 0 runs nothing", async () => {
    const backend = new RecordingBackend(new LocalBackend(model.engine), 1);
    const gw = await gatewayFor(model, { backend, warmup: { passes: 0 } });
    try {
      expect(backend.steps).toHaveLength(0);
      expect(gw.warmup).toBeUndefined();
      expect((await scrape(gw.url)).get("moe_warmup_passes_total")).toBe(0);
    } finally {
      await gw.close();
    }
  });
});
