/** The official `openai` npm client, unmodified, against the gateway over real HTTP. */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServingModel } from "../../model/index.js";
import type { Gateway } from "../../gateway/index.js";
import { MODEL, gatewayFor, loadTiny } from "./helpers.js";

let model: ServingModel;
let gw: Gateway;
let client: OpenAI;

beforeAll(async () => {
  model = await loadTiny();
  gw = await gatewayFor(model);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "x", maxRetries: 0, timeout: 30_000 });
});

afterAll(async () => {
  await gw?.close();
  await model?.close();
});

// vLLM's extension, passed through the client's body untouched, so lengths are deterministic
const extra = { ignore_eos: true } as Record<string, unknown>;

describe("openai client", () => {
  it("lists the model", async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual([MODEL]);
  });

  it("completes, and streams the same text with usage", async () => {
    const params = { model: MODEL, prompt: "The answer to life the universe and everything is", max_tokens: 12, temperature: 0, ...extra };
    const c = await client.completions.create(params as OpenAI.CompletionCreateParamsNonStreaming);
    expect(c.object).toBe("text_completion");
    expect(c.model).toBe(MODEL);
    expect(c.choices).toHaveLength(1);
    expect(c.choices[0]!.finish_reason).toBe("length");
    expect(c.choices[0]!.text.length).toBeGreaterThan(0);
    expect(c.usage).toMatchObject({ completion_tokens: 12, total_tokens: c.usage!.prompt_tokens + 12 });

    const stream = await client.completions.create({ ...params, stream: true, stream_options: { include_usage: true } } as OpenAI.CompletionCreateParamsStreaming);
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined | null;
    let finish: string | null = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      for (const ch of chunk.choices) {
        text += ch.text;
        finish = ch.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text).toBe(c.choices[0]!.text);
    expect(finish).toBe("length");
    expect(usage).toEqual(c.usage);
  });

  it("returns the sampled tokens' logprobs", async () => {
    const c = await client.completions.create({ model: MODEL, prompt: "Hello", max_tokens: 4, temperature: 0, logprobs: 1, ...extra } as OpenAI.CompletionCreateParamsNonStreaming);
    const lp = c.choices[0]!.logprobs!;
    expect(lp.tokens).toHaveLength(4);
    expect(lp.token_logprobs!.every((x) => x <= 0 && Number.isFinite(x))).toBe(true);
    expect(lp.text_offset![0]).toBe(0);
    expect(lp.text_offset!.every((x, i) => i === 0 || x >= lp.text_offset![i - 1]!)).toBe(true);
    // byte pieces show as OpenAI's "bytes:\xNN"; every other token's text is a piece of the output
    for (const t of lp.tokens!) if (!t.startsWith("bytes:")) expect(c.choices[0]!.text).toContain(t);
  });

  it("streams a chat completion in chat.completion.chunk deltas, with usage", async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Say something." },
    ];
    const full = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 10, temperature: 0, ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(full.object).toBe("chat.completion");
    expect(full.choices[0]!.message.role).toBe("assistant");
    const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true }, ...extra } as OpenAI.ChatCompletionCreateParamsStreaming);
    let content = "";
    let role: string | undefined;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      for (const ch of chunk.choices) {
        role ??= ch.delta.role;
        content += ch.delta.content ?? "";
        finish = ch.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(role).toBe("assistant");
    expect(content).toBe(full.choices[0]!.message.content);
    expect(finish).toBe("length");
    expect(usage?.completion_tokens).toBe(10);
    expect(usage?.prompt_tokens).toBe(full.usage?.prompt_tokens);
  });

  it("reproduces a seeded sample", async () => {
    const params = { model: MODEL, prompt: "Once upon a time", max_tokens: 16, temperature: 0.9, top_p: 0.95, seed: 42, ...extra } as OpenAI.CompletionCreateParamsNonStreaming;
    const a = await client.completions.create(params);
    const b = await client.completions.create(params);
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
  });

  it("surfaces a 400 as BadRequestError", async () => {
    const err = await client.completions.create({ model: MODEL, prompt: "x", n: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).status).toBe(400);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("n");
  });
});
