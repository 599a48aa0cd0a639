/**
 * The OpenAI-compatible gateway in front of a real cluster (configs/clusters/local.yaml:
 * 2 stages, 3 expert hosts, every process a real OS process), checked against the
 * single-process gateway on the same weights: the official `openai` client completes,
 * streams and chats; 32 simultaneous streams of different lengths give the tokens each
 * gives alone; a client that disconnects frees its KV cache on every stage within a
 * second; /metrics reports each expert host's resident expert weights; /health turns red when a host dies.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterMonitor, launch, modelPathFor, type RunningCluster } from "../../control/index.js";
import type { Gateway } from "../../gateway/index.js";
import { expertWeightBytes, expertWeights, openModel, type ServingModel } from "../../model/index.js";
import { MODEL, gatewayFor, loadTiny, post, scrape, streamCompletion, waitFor, type StreamResult } from "../gateway/helpers.js";
import { alive, stageLeftovers, tempDir } from "./helpers.js";

const tmp = tempDir("moe-cluster-gw-");
let cluster: RunningCluster;
let monitor: ClusterMonitor;
let single: ServingModel;
let ref: Gateway;
let url: string;
let pids: number[] = [];

beforeAll(async () => {
  [cluster, single] = await Promise.all([
    launch({ clusterFile: "configs/clusters/local.yaml", runDir: tmp.dir, gatewayPort: 0, warmupPasses: 1, keepGoing: true, readyTimeoutMs: 100_000, loadIntervalMs: 60_000 }),
    loadTiny(),
  ]);
  pids = cluster.states().map((s) => s.pid);
  url = cluster.gatewayUrl!;
  monitor = new ClusterMonitor(cluster.runtime);
  ref = await gatewayFor(single);
});

afterAll(async () => {
  await monitor?.close();
  await cluster?.stop("test finished");
  await ref?.close();
  await single?.close();
  expect(pids.filter(alive)).toEqual([]);
  tmp.cleanup();
});

/** 32 requests: token-id and text prompts of 1..150 tokens, 2..33 new tokens, greedy. */
function requests(): Array<Record<string, unknown>> {
  return Array.from({ length: 32 }, (_, i) => {
    const len = 1 + ((i * 37) % 150);
    const prompt = i % 4 === 3 ? `Request ${i}: ` + "the quick brown fox jumps over the lazy dog ".repeat(1 + (i % 5)) : Array.from({ length: len }, (_, j) => 4 + ((i * 131 + j * 17) % 2000));
    return { model: MODEL, prompt, max_tokens: 2 + ((i * 7) % 32), temperature: 0, ignore_eos: true };
  });
}

describe("gateway over the local cluster", () => {
  it("the official openai client completes, streams and chats; greedy text equals the single process", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0, timeout: 60_000 });
    const local = new OpenAI({ baseURL: `${ref.url}/v1`, apiKey: "x", maxRetries: 0, timeout: 60_000 });
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual([MODEL]);

    const params = { model: MODEL, prompt: "The answer to life the universe and everything is", max_tokens: 12, temperature: 0, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming;
    const [c, l] = await Promise.all([client.completions.create(params), local.completions.create(params)]);
    expect(c.choices[0]!.text).toBe(l.choices[0]!.text);
    expect(c.usage).toEqual(l.usage);

    const stream = await client.completions.create({ ...params, stream: true, stream_options: { include_usage: true } } as OpenAI.CompletionCreateParamsStreaming);
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      for (const ch of chunk.choices) text += ch.text;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(c.choices[0]!.text);
    expect(usage).toEqual(c.usage);

    const chat = { model: MODEL, messages: [{ role: "user" as const, content: "Hello there" }], max_tokens: 8, temperature: 0 };
    const chatStream = await client.chat.completions.create({ ...chat, stream: true });
    let reply = "";
    for await (const chunk of chatStream) reply += chunk.choices[0]?.delta?.content ?? "";
    const localChat = await local.chat.completions.create(chat);
    expect(reply).toBe(localChat.choices[0]!.message.content);
  });

  it("32 simultaneous streams of different lengths give the tokens each gives alone", async () => {
    const reqs = requests();
    const alone: StreamResult[] = [];
    for (const r of reqs) alone.push(await streamCompletion(ref.url, r)); // alone, single process
    const together = await Promise.all(reqs.map((r) => streamCompletion(url, r)));
    together.forEach((t, i) => {
      expect(t.tokenIds, `request ${i}`).toEqual(alone[i]!.tokenIds);
      expect(t.completionTokens).toBe(reqs[i]!.max_tokens);
      expect(t.events.at(-1)).toBe("[DONE]");
    });
    // the cluster's routers saw the traffic: per-expert counts reach /metrics
    const m = await scrape(url);
    const routed = [...m].filter(([k]) => k.startsWith("moe_expert_tokens_total")).reduce((a, [, v]) => a + v, 0);
    expect(routed).toBeGreaterThan(0);
  });

  it("/metrics reports each expert host's resident expert weights: the bytes (as stored) and count of the experts placed on it", async () => {
    const want = new Map<string, { bytes: number; experts: number }>();
    for (const p of cluster.runtime.processes.filter((x) => x.role === "expert")) {
      const m = openModel(modelPathFor(cluster.runtime, p));
      try {
        const w = want.get(p.host) ?? { bytes: 0, experts: 0 };
        for (const [l, e] of p.experts ?? []) w.bytes += expertWeightBytes(expertWeights(m.weights, l, e));
        w.experts += p.experts?.length ?? 0;
        want.set(p.host, w);
      } finally {
        m.close();
      }
    }
    expect(want.size).toBe(3);
    const got = await scrape(url);
    for (const [host, w] of want) {
      expect(w.bytes).toBeGreaterThan(0);
      expect(got.get(`moe_host_expert_weight_bytes{host="${host}"}`)).toBe(w.bytes);
      expect(got.get(`moe_host_resident_experts{host="${host}"}`)).toBe(w.experts);
    }
  });

  it("a client that disconnects frees its sequence and its KV cache on every stage within a second", async () => {
    const abort = new AbortController();
    const res = await post(`${url}/v1/completions`, { model: MODEL, prompt: [1, 300, 301, 302], max_tokens: 900, temperature: 0, ignore_eos: true, stream: true }, {}, abort.signal);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read(); // first chunk arrived: the sequence is running
    expect((await stageLeftovers(monitor)).live).toBeGreaterThan(0);
    expect(await waitFor(async () => ((await scrape(url)).get("moe_kv_sequences") ?? 0) > 0, 3000)).toBe(true);
    abort.abort();
    const freed = await waitFor(async () => {
      const [m, left] = await Promise.all([scrape(url), stageLeftovers(monitor)]);
      return m.get("moe_running_sequences") === 0 && left.live === 0;
    }, 1000);
    expect(freed).toBe(true);
    // the gateway's own metric follows the stages' reports (polled every 0.5 s)
    expect(await waitFor(async () => (await scrape(url)).get("moe_kv_sequences") === 0, 3000)).toBe(true);
  });

  it("a burst of 200 sampled requests (temperature 0.7, seeded or not) gets only 200s and 429s; seeded ones reproduce", async () => {
    const burst = async (seeded: boolean) =>
      Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const res = await post(`${url}/v1/completions`, { model: MODEL, prompt: [1], max_tokens: 4, temperature: 0.7, ignore_eos: true, return_token_ids: true, ...(seeded ? { seed: i } : {}) });
          const body = (await res.json()) as { choices?: { token_ids?: number[] }[] };
          return { status: res.status, ids: body.choices?.[0]?.token_ids };
        }),
      );
    const seededRun: { status: number; ids?: number[] }[] = [];
    for (const seeded of [false, true]) {
      const r = await burst(seeded);
      if (seeded) seededRun.push(...r);
      const statuses = new Set(r.map((x) => x.status));
      expect([...statuses].filter((st) => st !== 200 && st !== 429)).toEqual([]);
      expect(r.filter((x) => x.status === 200).length).toBeGreaterThan(0);
      expect(r.filter((x) => x.status === 200).every((x) => x.ids?.length === 4)).toBe(true);
    }
    // the same seed gives the same tokens, however busy the cluster was when it ran
    const again = await Promise.all(
      [3, 17, 42].map(async (seed) => {
        const one = async () => ((await (await post(`${url}/v1/completions`, { model: MODEL, prompt: [1], max_tokens: 4, temperature: 0.7, ignore_eos: true, return_token_ids: true, seed })).json()) as { choices: { token_ids: number[] }[] }).choices[0]!.token_ids;
        return [await one(), await one()];
      }),
    );
    [3, 17, 42].forEach((seed, k) => {
      expect(again[k]![0]).toEqual(again[k]![1]);
      if (seededRun[seed]!.status === 200) expect(seededRun[seed]!.ids).toEqual(again[k]![0]);
    });
  });

  it("top_logprobs, logit_bias and penalties through the cluster give what the single process gives", async () => {
    const body = { model: MODEL, prompt: [1, 300, 301, 302], max_tokens: 10, temperature: 0, ignore_eos: true, return_token_ids: true, logprobs: 5, logit_bias: { "500": 4 }, presence_penalty: 1, frequency_penalty: 0.5, repetition_penalty: 1.2 };
    type R = { choices: { token_ids: number[]; logprobs: { token_logprobs: number[]; top_logprobs: Record<string, number>[] } }[] };
    const [c, s] = await Promise.all([url, ref.url].map(async (u) => ((await (await post(`${u}/v1/completions`, body)).json()) as R).choices[0]!));
    expect(c!.token_ids).toEqual(s!.token_ids);
    expect(c!.logprobs.top_logprobs.map((t) => Object.keys(t))).toEqual(s!.logprobs.top_logprobs.map((t) => Object.keys(t)));
    c!.logprobs.top_logprobs.forEach((t, i) => Object.values(t).forEach((lp, k) => expect(Math.abs(lp - Object.values(s!.logprobs.top_logprobs[i]!)[k]!)).toBeLessThan(0.05))); // f16 wire
    expect(c!.logprobs.top_logprobs.every((t) => Object.keys(t).length === 5)).toBe(true);
  });

  it("/health is green with every host up and red when one dies", async () => {
    const ok = await fetch(`${url}/health`);
    expect(ok.status).toBe(200);
    process.kill(cluster.pid("expert2"), "SIGKILL");
    const red = await waitFor(async () => (await fetch(`${url}/health`)).status === 503, 5000);
    expect(red).toBe(true);
    const body = (await (await fetch(`${url}/health`)).json()) as { hosts: { name: string; up: boolean }[] };
    expect(body.hosts.find((h) => h.name === "expert2")?.up).toBe(false);
  });
});
