/**
 * The sampling parameters serving users send, end to end through the HTTP API of a real gateway over
 * the real engine: logit_bias, top_logprobs (checked against the model's own logits), the penalties
 * (the API gives what the generation loop gives with the same settings), min_p / top_k with a seed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Gateway } from "../../gateway/index.js";
import type { SamplingParams, ServingModel } from "../../model/index.js";
import { generate, LocalBackend } from "../../stages/index.js";
import { MODEL, gatewayFor, loadTiny, post } from "./helpers.js";

let model: ServingModel;
let gw: Gateway;
const PROMPT = [1, 422, 3033 % 2048, 300, 301, 302];

beforeAll(async () => {
  model = await loadTiny();
  gw = await gatewayFor(model);
});

afterAll(async () => {
  await gw?.close();
  await model?.close();
});

type Completion = { choices: { token_ids: number[]; logprobs: { token_logprobs: number[]; top_logprobs: Record<string, number>[] | null } | null }[] };

async function complete(body: Record<string, unknown>): Promise<Completion> {
  const res = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: PROMPT, max_tokens: 12, ignore_eos: true, return_token_ids: true, ...body });
  expect(res.status).toBe(200);
  return (await res.json()) as Completion;
}

/** What the one generation loop gives for the same prompt and settings. */
async function direct(sampling: SamplingParams, n = 12): Promise<number[]> {
  const ids: number[] = [];
  for await (const r of generate(new LocalBackend(model.engine), PROMPT, { maxTokens: n, sampling, stopTokens: [], contextLength: model.config.contextLength })) ids.push(r.token);
  return ids;
}

describe("sampling parameters through the API", () => {
  it("logit_bias +100 on one token makes greedy decoding emit only it; -100 on the greedy choice removes it", async () => {
    const forced = await complete({ temperature: 0, logit_bias: { "777": 100 } });
    expect(forced.choices[0]!.token_ids).toEqual(new Array(12).fill(777));
    const plain = (await complete({ temperature: 0 })).choices[0]!.token_ids;
    const banned = (await complete({ temperature: 0, logit_bias: { [String(plain[0])]: -100 } })).choices[0]!.token_ids;
    expect(banned[0]).not.toBe(plain[0]);
    expect(banned).not.toContain(plain[0]);
  });

  it("logprobs: 5 returns the 5 most likely tokens of the model's logits at each position", async () => {
    const r = (await complete({ temperature: 0, logprobs: 5, max_tokens: 1 })).choices[0]!;
    const seq = model.engine.newSequence();
    const logits = await model.engine.forward([{ seq, tokens: PROMPT }]);
    model.engine.release(seq);
    let max = -Infinity;
    for (const v of logits) max = Math.max(max, v);
    let sum = 0;
    for (const v of logits) sum += Math.exp(v - max);
    const lse = max + Math.log(sum);
    const want = Array.from(logits, (v, id) => ({ id, lp: v - lse })).sort((a, b) => b.lp - a.lp || a.id - b.id).slice(0, 5);
    const top = r.logprobs!.top_logprobs![0]!;
    const got = Object.values(top);
    expect(got.length).toBe(5);
    got.forEach((lp, i) => expect(lp).toBeCloseTo(want[i]!.lp, 4));
    expect(r.token_ids[0]).toBe(want[0]!.id);
    expect(r.logprobs!.token_logprobs[0]).toBeCloseTo(want[0]!.lp, 4);
  });

  it("chat top_logprobs: 3 gives three alternatives per token with bytes, most likely first", async () => {
    const res = await post(`${gw.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: "user", content: "Hello there" }], max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3, ignore_eos: true });
    const body = (await res.json()) as { choices: { logprobs: { content: { token: string; logprob: number; top_logprobs: { token: string; logprob: number; bytes: number[] }[] }[] } }[] };
    const content = body.choices[0]!.logprobs.content;
    expect(content.length).toBe(4);
    for (const t of content) {
      expect(t.top_logprobs.length).toBe(3);
      expect(t.top_logprobs[0]!.logprob).toBeGreaterThanOrEqual(t.top_logprobs[1]!.logprob);
      expect(t.top_logprobs[1]!.logprob).toBeGreaterThanOrEqual(t.top_logprobs[2]!.logprob);
      expect(t.logprob).toBeCloseTo(t.top_logprobs[0]!.logprob, 5); // greedy: the sampled token is the most likely
      expect(t.top_logprobs.every((a) => Array.isArray(a.bytes))).toBe(true);
    }
  });

  it("presence, frequency and repetition penalties give what the generation loop gives with the same settings, and change greedy output", async () => {
    const settings = { temperature: 0, topP: 1, presencePenalty: 1.5, frequencyPenalty: 0.75, repetitionPenalty: 1.3 };
    const api = (await complete({ temperature: 0, presence_penalty: 1.5, frequency_penalty: 0.75, repetition_penalty: 1.3, max_tokens: 24 })).choices[0]!.token_ids;
    expect(api).toEqual(await direct(settings, 24));
    expect(api).not.toEqual(await direct({ temperature: 0, topP: 1 }, 24));
  });

  it("seeded top_k / min_p sampling through the API equals the generation loop with the same seed", async () => {
    const api = (await complete({ temperature: 0.9, top_k: 20, min_p: 0.02, seed: 1234 })).choices[0]!.token_ids;
    expect(api).toEqual(await direct({ temperature: 0.9, topP: 1, topK: 20, minP: 0.02, seed: 1234 }));
  });
});
