/** Bad input, overload, disconnects, API key, health, metrics, stop strings and failures over real HTTP. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ServingModel } from "../../model/index.js";
import { LocalBackend } from "../../stages/index.js";
import type { Gateway, HostStatus } from "../../gateway/index.js";
import { MODEL, RecordingBackend, gatewayFor, loadTiny, post, scrape, sseEvents, streamCompletion, waitFor } from "./helpers.js";

let model: ServingModel;
let gw: Gateway;
/** Extra gateways of one test, closed after it. */
const extra: Gateway[] = [];

beforeAll(async () => {
  model = await loadTiny();
  gw = await gatewayFor(model);
});

afterEach(async () => {
  for (const g of extra.splice(0)) await g.close();
});

afterAll(async () => {
  await gw?.close();
  await model?.close();
});

async function expectOpenAiError(res: Response, status: number, param?: string | null, code?: string): Promise<{ message: string; type: string; param: string | null; code: string }> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/json");
  const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string } };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(typeof body.error.message).toBe("string");
  if (param !== undefined) expect(body.error.param).toBe(param);
  if (code !== undefined) expect(body.error.code).toBe(code);
  return body.error;
}

describe("bad input → 400 with the OpenAI error shape", () => {
  const ctx = () => model.config.contextLength;
  const cases: Array<[string, string, () => unknown, string | null]> = [
    ["malformed JSON", "/v1/completions", () => '{"prompt": "hi", ', null],
    ["empty body", "/v1/completions", () => "", null],
    ["a JSON array body", "/v1/completions", () => "[1,2]", null],
    ["max_tokens of the wrong type", "/v1/completions", () => ({ prompt: "hi", max_tokens: "ten" }), "max_tokens"],
    ["temperature of the wrong type", "/v1/completions", () => ({ prompt: "hi", temperature: "hot" }), "temperature"],
    ["a number as prompt", "/v1/completions", () => ({ prompt: 5 }), "prompt"],
    ["a missing prompt", "/v1/completions", () => ({ max_tokens: 3 }), "prompt"],
    ["a prompt longer than the context (ids)", "/v1/completions", () => ({ prompt: new Array(ctx() + 1).fill(5) }), "prompt"],
    ["a prompt longer than the context (text)", "/v1/completions", () => ({ prompt: "word ".repeat(ctx() * 2) }), "prompt"],
    ["n: 3", "/v1/completions", () => ({ prompt: "hi", n: 3 }), "n"],
    ["two prompts", "/v1/completions", () => ({ prompt: ["a", "b"] }), "prompt"],
    ["a token id outside the vocabulary", "/v1/completions", () => ({ prompt: [1, 999999] }), "prompt"],
    ["logprobs above 20", "/v1/completions", () => ({ prompt: "hi", logprobs: 21 }), "logprobs"],
    ["a logit_bias token outside the vocabulary", "/v1/completions", () => ({ prompt: "hi", logit_bias: { "999999": 5 } }), "logit_bias"],
    ["a logit_bias over 100", "/v1/completions", () => ({ prompt: "hi", logit_bias: { "5": 101 } }), "logit_bias.5"],
    ["a logit_bias key that is not a token id", "/v1/completions", () => ({ prompt: "hi", logit_bias: { x: 1 } }), "logit_bias.x"],
    ["top_k of -2", "/v1/completions", () => ({ prompt: "hi", top_k: -2 }), "top_k"],
    ["min_p above 1", "/v1/completions", () => ({ prompt: "hi", min_p: 1.5 }), "min_p"],
    ["repetition_penalty of 0", "/v1/completions", () => ({ prompt: "hi", repetition_penalty: 0 }), "repetition_penalty"],
    ["presence_penalty above 2", "/v1/completions", () => ({ prompt: "hi", presence_penalty: 2.5 }), "presence_penalty"],
    ["top_p of 0", "/v1/completions", () => ({ prompt: "hi", top_p: 0 }), "top_p"],
    ["a negative max_tokens", "/v1/completions", () => ({ prompt: "hi", max_tokens: -1 }), "max_tokens"],
    ["five stop strings", "/v1/completions", () => ({ prompt: "hi", stop: ["a", "b", "c", "d", "e"] }), "stop"],
    ["stream of the wrong type", "/v1/completions", () => ({ prompt: "hi", stream: "yes" }), "stream"],
    ["chat without messages", "/v1/chat/completions", () => ({ max_tokens: 3 }), "messages"],
    ["chat with a bad role", "/v1/chat/completions", () => ({ messages: [{ role: "wizard", content: "x" }] }), "messages.0.role"],
    ["chat with content of the wrong type", "/v1/chat/completions", () => ({ messages: [{ role: "user", content: 7 }] }), "messages.0.content"],
    ["chat n: 2", "/v1/chat/completions", () => ({ messages: [{ role: "user", content: "x" }], n: 2 }), "n"],
    ["chat top_logprobs 21", "/v1/chat/completions", () => ({ messages: [{ role: "user", content: "x" }], logprobs: true, top_logprobs: 21 }), "top_logprobs"],
    ["chat top_logprobs without logprobs", "/v1/chat/completions", () => ({ messages: [{ role: "user", content: "x" }], top_logprobs: 3 }), "top_logprobs"],
  ];
  for (const [name, path, body, param] of cases)
    it(name, async () => {
      const e = await expectOpenAiError(await post(gw.url + path, body()), 400, param);
      expect(e.type).toBe("invalid_request_error");
    });

  it("names the context length for an over-long prompt", async () => {
    const e = await expectOpenAiError(await post(`${gw.url}/v1/completions`, { prompt: new Array(ctx() + 1).fill(5) }), 400, "prompt", "context_length_exceeded");
    expect(e.message).toContain(String(ctx()));
  });

  it("ignores unknown fields of any type, like OpenAI", async () => {
    const res = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: "hi", max_tokens: 2, some_future_field: { a: 1 }, user: "u" });
    expect(res.status).toBe(200);
  });

  it("answers an unknown model with 404 model_not_found, an unknown URL with 404, a wrong method with 405", async () => {
    await expectOpenAiError(await post(`${gw.url}/v1/completions`, { model: "gpt-4", prompt: "hi" }), 404, "model", "model_not_found");
    await expectOpenAiError(await post(`${gw.url}/v1/nothing`, {}), 404, null, "unknown_url");
    await expectOpenAiError(await fetch(`${gw.url}/v1/completions`), 405, null, "method_not_allowed");
    expect((await fetch(`${gw.url}/v1/models/${MODEL}`)).status).toBe(200);
    await expectOpenAiError(await fetch(`${gw.url}/v1/models/other`), 404, "model", "model_not_found");
  });

  it("counts answered requests by status", async () => {
    const m = await scrape(gw.url);
    expect(m.get('moe_requests_total{status="400"}')).toBeGreaterThanOrEqual(cases.length);
    expect(m.get('moe_requests_total{status="404"}')).toBeGreaterThanOrEqual(1);
  });
});

describe("overload", () => {
  it("answers a burst over the queue limit with 429 + Retry-After, never hangs, completes the rest", async () => {
    const g = await gatewayFor(model, { limits: { maxRunningSequences: 2, maxQueued: 4 } });
    extra.push(g);
    const body = { model: MODEL, prompt: "The burst", max_tokens: 40, temperature: 0, ignore_eos: true, stream: true };
    const results = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await post(`${g.url}/v1/completions`, body);
        if (res.status === 200) return { status: 200, events: await sseEvents(res) };
        return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as { error: { type: string; code: string; message: string; param: unknown } } };
      }),
    );
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    expect(ok.length + limited.length).toBe(20);
    expect(ok.length).toBeGreaterThanOrEqual(6);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    for (const r of limited) {
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(r.body!.error).toMatchObject({ type: "rate_limit_error", code: "queue_full", param: null });
    }
    for (const r of ok) {
      expect(r.events!.at(-1)).toBe("[DONE]");
      const last = r.events!.at(-2) as { choices: Array<{ finish_reason: string }> };
      expect(last.choices[0]!.finish_reason).toBe("length");
    }
    const m = await scrape(g.url);
    expect(m.get('moe_requests_total{status="429"}')).toBe(limited.length);
    expect(m.get("moe_running_sequences")).toBe(0);
  });
});

describe("disconnect", () => {
  it("frees the sequence of a client that goes away within a second", async () => {
    const before = await scrape(gw.url);
    const ctrl = new AbortController();
    const res = await post(`${gw.url}/v1/completions`, { model: MODEL, prompt: "A very long story", max_tokens: 900, temperature: 0, ignore_eos: true, stream: true }, {}, ctrl.signal);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("data: ");
    const during = await scrape(gw.url);
    expect(during.get("moe_running_sequences")).toBe(1);
    expect(during.get("moe_kv_sequences")).toBe(1);
    ctrl.abort();
    const t0 = Date.now();
    const freed = await waitFor(async () => {
      const m = await scrape(gw.url);
      return m.get("moe_running_sequences") === 0 && m.get("moe_kv_sequences") === 0;
    }, 1000);
    expect(freed).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
    const after = await scrape(gw.url);
    expect(after.get("moe_generated_tokens_total")! - before.get("moe_generated_tokens_total")!).toBeLessThan(900);
    expect(after.get('moe_requests_total{status="499"}')).toBe(1);
  });

  it("frees a non-streaming request's sequence too", async () => {
    const ctrl = new AbortController();
    const p = post(`${gw.url}/v1/completions`, { model: MODEL, prompt: "Another long story", max_tokens: 900, temperature: 0, ignore_eos: true }, {}, ctrl.signal).catch((e: unknown) => e);
    expect(await waitFor(async () => (await scrape(gw.url)).get("moe_kv_sequences") === 1, 2000)).toBe(true);
    ctrl.abort();
    await p;
    expect(await waitFor(async () => {
      const m = await scrape(gw.url);
      return m.get("moe_running_sequences") === 0 && m.get("moe_kv_sequences") === 0;
    }, 1000)).toBe(true);
  });
});

describe("api key", () => {
  it("needs Authorization: Bearer KEY everywhere but /health", async () => {
    const g = await gatewayFor(model, { apiKey: "sekret" });
    extra.push(g);
    await expectOpenAiError(await fetch(`${g.url}/v1/models`), 401, null, "invalid_api_key");
    await expectOpenAiError(await fetch(`${g.url}/v1/models`, { headers: { authorization: "Bearer wrong" } }), 401);
    await expectOpenAiError(await post(`${g.url}/v1/completions`, { prompt: "hi" }), 401);
    await expectOpenAiError(await fetch(`${g.url}/metrics`), 401);
    expect((await fetch(`${g.url}/v1/models`, { headers: { authorization: "Bearer sekret" } })).status).toBe(200);
    const res = await post(`${g.url}/v1/completions`, { prompt: "hi", max_tokens: 2 }, { authorization: "Bearer sekret" });
    expect(res.status).toBe(200);
    expect((await fetch(`${g.url}/health`)).status).toBe(200);
  });
});

describe("health and metrics", () => {
  it("is ok for a single process and exports every series", async () => {
    const res = await fetch(`${gw.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", hosts: [{ name: "local", up: true }] });
    await streamCompletion(gw.url, { prompt: "metrics", max_tokens: 3, ignore_eos: true });
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    for (const name of ["moe_queue_depth", "moe_running_sequences", "moe_kv_sequences", "moe_ttft_seconds_bucket", "moe_itl_seconds_bucket", "moe_generated_tokens_total", "moe_prompt_tokens_total", "moe_generated_tokens_per_second", "moe_requests_total", "moe_expert_tokens_total", "moe_host_errors_total", "moe_host_up"])
      expect(text, name).toMatch(new RegExp(`^${name}[ {]`, "m"));
    const m = await scrape(gw.url);
    expect(m.get('moe_stage_busy_seconds_total{stage="0",host="local"}')).toBeGreaterThan(0);
    const routed = [...m].filter(([k]) => k.startsWith('moe_expert_tokens_total{layer="0"')).reduce((n, [, v]) => n + v, 0);
    expect(routed).toBeGreaterThan(0);
  });

  it("is red when a cluster host is down, and exports the cluster's per-host series", async () => {
    const hosts: HostStatus[] = [
      { name: "a", up: true, roles: ["stage"], errors: 0, stageBusySeconds: { "0": 1.5 } },
      { name: "b", up: true, roles: ["stage", "expert"], errors: 2, stageBusySeconds: { "1": 2.5 } },
    ];
    const g = await gatewayFor(model, { clusterStatus: () => hosts });
    extra.push(g);
    expect((await fetch(`${g.url}/health`)).status).toBe(200);
    hosts[1] = { ...hosts[1]!, up: false, errors: 3, detail: "no heartbeat for 5 s" };
    const res = await fetch(`${g.url}/health`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { status: string; hosts: Array<{ name: string; up: boolean; detail?: string }> };
    expect(body.status).toBe("down");
    expect(body.hosts.find((h) => h.name === "b")).toMatchObject({ up: false, detail: "no heartbeat for 5 s" });
    const m = await scrape(g.url);
    expect(m.get('moe_host_up{host="b"}')).toBe(0);
    expect(m.get('moe_host_up{host="a"}')).toBe(1);
    expect(m.get('moe_host_errors_total{host="b"}')).toBe(3);
    expect(m.get('moe_stage_busy_seconds_total{stage="1",host="b"}')).toBe(2.5);
  });
});

describe("echo and chat extras", () => {
  it("echoes the prompt, and returns chat logprobs and token ids", async () => {
    const c = (await (await post(`${gw.url}/v1/completions`, { prompt: "Echo this", max_tokens: 3, echo: true, ignore_eos: true })).json()) as { choices: Array<{ text: string }> };
    expect(c.choices[0]!.text.startsWith("Echo this")).toBe(true);
    const chat = (await (await post(`${gw.url}/v1/chat/completions`, { messages: [{ role: "user", content: "hi" }], max_tokens: 4, temperature: 0, logprobs: true, ignore_eos: true, return_token_ids: true })).json()) as {
      choices: Array<{ message: { role: string; content: string }; logprobs: { content: Array<{ token: string; logprob: number; bytes: number[]; top_logprobs: unknown[] }> }; token_ids: number[]; prompt_token_ids: number[] }>;
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    const ch = chat.choices[0]!;
    expect(ch.message.role).toBe("assistant");
    expect(ch.logprobs.content).toHaveLength(4);
    expect(ch.logprobs.content.every((t) => t.logprob <= 0 && t.top_logprobs.length === 0)).toBe(true);
    expect(ch.token_ids).toHaveLength(4);
    expect(ch.prompt_token_ids).toEqual(model.tokenizer.encode("user: hi\nassistant:"));
    expect(chat.usage).toMatchObject({ prompt_tokens: ch.prompt_token_ids.length, completion_tokens: 4 });
  });
});

describe("stop strings", () => {
  it("ends the output before the first stop string, streaming or not, with finish_reason stop", async () => {
    const base = { model: MODEL, prompt: "Tell me a story", max_tokens: 30, temperature: 0, ignore_eos: true };
    const free = (await (await post(`${gw.url}/v1/completions`, base)).json()) as { choices: Array<{ text: string }> };
    const text = free.choices[0]!.text;
    const stop = text.slice(Math.floor(text.length / 2), Math.floor(text.length / 2) + 3);
    const expected = text.slice(0, text.indexOf(stop));
    const whole = (await (await post(`${gw.url}/v1/completions`, { ...base, stop: [stop, "\u0000never"] })).json()) as { choices: Array<{ text: string; finish_reason: string }> };
    expect(whole.choices[0]).toMatchObject({ text: expected, finish_reason: "stop" });
    const streamed = await streamCompletion(gw.url, { ...base, stop });
    expect(streamed.text).toBe(expected);
    expect(streamed.finishReason).toBe("stop");
  });
});

describe("failures", () => {
  it("fails only the requests of a failed step, with an error event or a 500, and keeps serving", async () => {
    const backend = new RecordingBackend(new LocalBackend(model.engine));
    const g = await gatewayFor(model, { backend });
    extra.push(g);
    backend.failNext = 1;
    const res = await post(`${g.url}/v1/completions`, { prompt: "fail me", max_tokens: 5, stream: true });
    expect(res.status).toBe(200);
    const events = await sseEvents(res);
    expect(events.at(-1)).toBe("[DONE]");
    expect(events.at(-2)).toMatchObject({ error: { type: "server_error", code: "backend_error" } });
    backend.failNext = 1;
    const e = await expectOpenAiError(await post(`${g.url}/v1/completions`, { prompt: "fail me", max_tokens: 5 }), 500, null, "backend_error");
    expect(e.message).toContain("injected stage failure");
    expect((await streamCompletion(g.url, { prompt: "works again", max_tokens: 5, ignore_eos: true })).finishReason).toBe("length");
    const m = await scrape(g.url);
    expect(m.get('moe_host_errors_total{host="local"}')).toBe(2);
    expect(m.get("moe_kv_sequences")).toBe(0);
  });

  it("close() fails queued and running requests with 503 and refuses new ones", async () => {
    const g = await gatewayFor(model, { limits: { maxRunningSequences: 1, maxQueued: 4 } });
    const body = { prompt: "closing time", max_tokens: 500, ignore_eos: true };
    const running = post(`${g.url}/v1/completions`, { ...body, stream: true });
    const queued = post(`${g.url}/v1/completions`, body);
    expect(await waitFor(async () => g.scheduler.queueDepth === 1, 2000)).toBe(true);
    await g.close();
    const r = await running;
    expect(r.status).toBe(200);
    const events = await sseEvents(r);
    expect(events.at(-2)).toMatchObject({ error: { code: "shutting_down" } });
    const q = await queued;
    expect(q.status).toBe(503);
    expect(q.headers.get("retry-after")).not.toBeNull();
    await expect(fetch(`${g.url}/health`)).rejects.toThrow();
  });
});
