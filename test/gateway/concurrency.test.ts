/**
 * Continuous batching over real HTTP: 32 simultaneous greedy streams of different prompt and
 * output lengths each produce exactly the tokens they produce alone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServingModel } from "../../model/index.js";
import { LocalBackend } from "../../stages/index.js";
import type { Gateway } from "../../gateway/index.js";
import { MODEL, RecordingBackend, gatewayFor, loadTiny, scrape, streamCompletion, waitFor, type StreamResult } from "./helpers.js";

let model: ServingModel;
let gw: Gateway;
let backend: RecordingBackend;
const LIMITS = { maxRunningSequences: 12, maxQueued: 32, maxBatchTokens: 96 };

beforeAll(async () => {
  model = await loadTiny();
  backend = new RecordingBackend(new LocalBackend(model.engine));
  gw = await gatewayFor(model, { backend, limits: LIMITS });
});

afterAll(async () => {
  await gw?.close();
  await model?.close();
});

/** 32 requests: token-id and text prompts of 1..160 tokens, 3..40 new tokens. */
function requests(vocab: number): Array<Record<string, unknown>> {
  return Array.from({ length: 32 }, (_, i) => {
    const len = 1 + ((i * 37) % 160);
    const prompt = i % 4 === 3 ? `Request ${i}: ` + "the quick brown fox jumps over the lazy dog ".repeat(1 + (i % 7)) : Array.from({ length: len }, (_, j) => 4 + ((i * 131 + j * 17) % (vocab - 4)));
    return { model: MODEL, prompt, max_tokens: 3 + ((i * 7) % 38), temperature: 0, ignore_eos: true };
  });
}

describe("continuous batching", () => {
  it("32 simultaneous streams yield the same tokens as each alone", async () => {
    const reqs = requests(model.config.vocabSize);
    const alone: StreamResult[] = [];
    for (const r of reqs) alone.push(await streamCompletion(gw.url, r));
    const stepsAlone = backend.steps.length;

    const together = await Promise.all(reqs.map((r) => streamCompletion(gw.url, r)));
    reqs.forEach((r, i) => {
      const a = alone[i]!, t = together[i]!;
      expect(t.tokenIds, `request ${i}`).toEqual(a.tokenIds);
      expect(t.tokenIds).toHaveLength(r.max_tokens as number);
      expect(t.text).toBe(a.text);
      expect(t.finishReason).toBe("length");
      expect(t.completionTokens).toBe(r.max_tokens);
      expect(t.events.at(-1)).toBe("[DONE]");
    });

    // the concurrent run batched: fewer steps, limits respected, decode and prefill shared steps
    const steps = backend.steps.slice(stepsAlone);
    expect(steps.length).toBeLessThan(stepsAlone / 3);
    for (const s of steps) {
      expect(s.length).toBeLessThanOrEqual(LIMITS.maxRunningSequences);
      expect(s.reduce((n, i) => n + i.tokens.length, 0)).toBeLessThanOrEqual(LIMITS.maxBatchTokens);
    }
    const isDecode = (i: { pos: number; tokens: readonly number[] }) => i.pos > 0 && i.tokens.length === 1;
    expect(steps.some((s) => s.some(isDecode) && s.some((i) => !isDecode(i)))).toBe(true);
    // a long prompt was split into chunks
    expect(steps.some((s) => s.some((i) => i.pos > 0 && i.tokens.length > 1))).toBe(true);

    expect(await waitFor(async () => {
      const m = await scrape(gw.url);
      return m.get("moe_running_sequences") === 0 && m.get("moe_kv_sequences") === 0 && m.get("moe_queue_depth") === 0;
    }, 1000)).toBe(true);

    // the same requests through a 3-stage pipeline view: 3 micro-batches in flight, a sequence in one at a time
    const deep = new RecordingBackend(new LocalBackend(model.engine), 3);
    const g3 = await gatewayFor(model, { backend: deep, limits: LIMITS });
    try {
      const piped = await Promise.all(reqs.slice(0, 16).map((r) => streamCompletion(g3.url, r)));
      piped.forEach((t, i) => expect(t.tokenIds, `request ${i} (pipelined)`).toEqual(alone[i]!.tokenIds));
      expect(deep.maxConcurrent).toBe(3);
      expect(deep.overlap).toBe(false);
    } finally {
      await g3.close();
    }
  });

  // the backend samples after every prompt chunk too, so without load-independent chunks the
  // number of chunks (192 tokens: 2 alone, 3 under load) would shift the seeded random stream
  it("a seeded sample with a long prompt is the same alone and under load", async () => {
    const prompt = Array.from({ length: 2 * LIMITS.maxBatchTokens }, (_, j) => 4 + ((j * 29) % 1500));
    const seededReq = { model: MODEL, prompt, max_tokens: 12, temperature: 1, seed: 7, ignore_eos: true };
    const alone = await streamCompletion(gw.url, seededReq);
    const load = requests(model.config.vocabSize).slice(0, 10).map((r) => streamCompletion(gw.url, r));
    await new Promise((r) => setTimeout(r, 30));
    const [busy] = await Promise.all([streamCompletion(gw.url, seededReq), ...load]);
    expect(busy!.tokenIds).toEqual(alone.tokenIds);
  });
});
