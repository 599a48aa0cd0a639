/**
 * The stage host's bookkeeping over real sockets (one stage holding every
 * layer, one expert host, in this process): requests that do not fit a
 * sequence's cache are refused with a code naming the problem, and nothing is
 * left half-written; release frees the cache; the host keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openModel, routerWeights, stepRows, type LoadedModel } from "../../model/index.js";
import { ensureTinyModel } from "../../factory/index.js";
import { placementKey, RouterCore, ZmqExpertTransport } from "../../router/index.js";
import { ExpertHost, PipelineClient, StageHost } from "../../stages/index.js";
import { RemoteError, RpcClient } from "../../transport/index.js";

let m: LoadedModel;
let experts: ExpertHost;
let transport: ZmqExpertTransport;
let stage: StageHost;
let client: PipelineClient;
let raw: RpcClient;
const greedy = { temperature: 0, topP: 1 };

beforeAll(async () => {
  m = openModel(ensureTinyModel());
  const cfg = m.config;
  const all = Array.from({ length: cfg.nLayers * cfg.nExperts }, (_, k) => [Math.floor(k / cfg.nExperts), k % cfg.nExperts] as const);
  experts = await ExpertHost.start({ name: "ex", config: cfg, weights: m.weights, experts: all, endpoint: "tcp://127.0.0.1:0" });
  transport = new ZmqExpertTransport({ hosts: new Map([["ex", experts.endpoint]]), dModel: cfg.dModel, name: "router" });
  const routers = new Map(Array.from({ length: cfg.nLayers }, (_, l) => [l, routerWeights(m.weights, cfg, l).router] as const));
  const placement = new Map(all.map(([l, e]) => [placementKey(l, e), ["ex"]]));
  stage = await StageHost.start({ name: "stage0", config: cfg, weights: m.weights, layers: [0, cfg.nLayers], endpoint: "tcp://127.0.0.1:0", moe: new RouterCore(cfg, routers, placement, transport), idleTimeoutMs: 2000 });
  client = new PipelineClient({ endpoints: [stage.endpoint], vocabSize: cfg.vocabSize });
  raw = RpcClient.connect({ endpoint: stage.endpoint, expect: { dModel: cfg.vocabSize } });
});

afterAll(async () => {
  await raw?.close();
  await client?.close();
  await stage?.close();
  await transport?.close();
  await experts?.close();
  m?.close();
});

/** The remote error code of a rejected promise. */
async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RemoteError);
  return (e as RemoteError).remoteCode;
}

describe("stage host", () => {
  it("refuses a step of a sequence it never saw", async () => {
    expect(await codeOf(client.step([{ seq: 7, pos: 5, tokens: [300] }]))).toBe("UNKNOWN_SEQUENCE");
  });

  it("refuses a step at the wrong position and keeps the sequence usable", async () => {
    const [first] = await client.step([{ seq: 8, pos: 0, tokens: [1, 300, 301], sampling: greedy }]);
    expect(await codeOf(client.step([{ seq: 8, pos: 5, tokens: [first!.token] }]))).toBe("POSITION_MISMATCH");
    expect(stage.liveSequences).toBe(1);
    const [next] = await client.step([{ seq: 8, pos: 3, tokens: [first!.token] }]);
    expect(next!.seq).toBe(8);
  });

  it("refuses a step past the context length before touching any cache", async () => {
    const ctx = m.config.contextLength;
    expect(await codeOf(client.step([{ seq: 9, pos: 0, tokens: Array.from({ length: ctx + 1 }, (_, i) => 300 + (i % 100)), sampling: greedy }]))).toBe("CONTEXT_EXCEEDED");
  });

  it("refuses rows of one sequence split into two runs", async () => {
    const seq = Uint32Array.of(10, 11, 10);
    const pos = Uint32Array.of(0, 0, 1);
    const rows = { ...stepRows([{ seq: 10, pos: 0, tokens: [1, 1, 300] }]), seq, pos };
    // no origin: the error comes back to the sender
    expect(await codeOf(raw.request({ kind: "stage.input", ...rows }))).toBe("BAD_ROWS");
  });

  it("release frees every cache it holds and the host keeps serving", async () => {
    await client.release([8, 9, 10, 11]);
    expect(stage.liveSequences).toBe(0);
    const [r] = await client.step([{ seq: 12, pos: 0, tokens: [1, 400], sampling: greedy }]);
    expect(r!.seq).toBe(12);
    await client.release([12]);
    expect(stage.liveSequences).toBe(0);
  });

  it("reclaims a sequence nobody released once it sits idle past the timeout, and counts it", async () => {
    const before = stage.reclaimedSequences;
    const [r] = await client.step([{ seq: 13, pos: 0, tokens: [1, 401], sampling: greedy }]);
    expect(stage.liveSequences).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 3200));
    expect(stage.liveSequences).toBe(0);
    expect(stage.reclaimedSequences).toBe(before + 1);
    expect(await codeOf(client.step([{ seq: 13, pos: 2, tokens: [r!.token] }]))).toBe("UNKNOWN_SEQUENCE");
  });

  it("an inner prompt chunk samples nothing and the last chunk gives the same token as one piece", async () => {
    const prompt = [1, 300, 301, 302, 303, 304];
    const [whole] = await client.step([{ seq: 20, pos: 0, tokens: prompt, sampling: greedy }]);
    expect(await client.step([{ seq: 21, pos: 0, tokens: prompt.slice(0, 4), sampling: greedy, sample: false, prompt: true }])).toEqual([]);
    const [chunked] = await client.step([{ seq: 21, pos: 4, tokens: prompt.slice(4), prompt: true }]);
    expect(chunked!.token).toBe(whole!.token);
    expect(chunked!.logprob).toBeCloseTo(whole!.logprob, 4);
    await client.release([20, 21]);
  });
});
