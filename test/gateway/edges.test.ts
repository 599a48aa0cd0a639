/**
 * Gateway edges: a huge text prompt is refused before any tokenising, text is
 * tokenised in a worker thread (same ids as inline), `max_tokens` is clipped
 * to the context left after the prompt, and a prompt that fills the context
 * is refused — over a real gateway, real engine, real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Gateway } from "../../gateway/index.js";
import type { ServingModel } from "../../model/index.js";
import { MODEL, gatewayFor, loadTiny, post } from "./helpers.js";

let model: ServingModel;
let gw: Gateway;
let inline: Gateway;

beforeAll(async () => {
  model = await loadTiny();
  gw = await gatewayFor(model, { tokenizerSource: model.tokenizerSource });
  inline = await gatewayFor(model, { tokenizerThreads: 0 });
});

afterAll(async () => {
  await gw?.close();
  await inline?.close();
  await model?.close();
});

describe("gateway edges", () => {
  it("refuses a 7 MiB text prompt with a 400 before tokenising it", async () => {
    const before = { ...gw.encoder.counts };
    const res = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: "x".repeat(7 * 1024 * 1024), max_tokens: 1 });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; param: string; message: string } };
    expect(body.error.code).toBe("context_length_exceeded");
    expect(body.error.param).toBe("prompt");
    expect(body.error.message).toMatch(/7340032 bytes.*at most 65536 bytes/);
    expect(gw.encoder.counts).toEqual(before);
    // the same bound holds for chat
    const chat = await post(`${gw.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: "user", content: "x".repeat(70_000) }] });
    expect(chat.status).toBe(400);
    expect(gw.encoder.counts).toEqual(before);
  });

  it("tokenises text prompts in a worker thread, with the same ids as the tokenizer inline", async () => {
    const prompt = "The answer to life, the universe and everything is";
    const before = gw.encoder.counts.worker;
    const ask = async (g: Gateway) => (await (await post(`${g.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 8, temperature: 0, return_token_ids: true })).json()) as { choices: { text: string; prompt_token_ids?: number[]; token_ids?: number[] }[]; usage: { prompt_tokens: number } };
    const a = await ask(gw);
    expect(gw.encoder.counts.worker).toBe(before + 1);
    const b = await ask(inline);
    expect(inline.encoder.counts.inline).toBeGreaterThan(0);
    expect(a.usage.prompt_tokens).toBe(model.tokenizer.encode(prompt).length);
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
    expect(a.choices[0]!.token_ids).toEqual(b.choices[0]!.token_ids);
  });

  it("clips max_tokens to the context left after the prompt", async () => {
    const ctx = model.config.contextLength;
    const res = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: [1, 300, 301], max_tokens: 1e9, temperature: 0, ignore_eos: true });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } };
    expect(body.usage.prompt_tokens).toBe(3);
    expect(body.usage.completion_tokens).toBe(ctx - 3);
    expect(body.usage.total_tokens).toBe(ctx);
    expect(body.choices[0]!.finish_reason).toBe("length");
  });

  it("refuses a prompt that fills the whole context (no room for one token)", async () => {
    const ctx = model.config.contextLength;
    const res = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: Array.from({ length: ctx }, (_, i) => 300 + (i % 500)), max_tokens: 1 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("context_length_exceeded");
  });
});
