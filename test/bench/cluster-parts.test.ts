/**
 * The parts of `moe bench cluster` that are not timings: the layer call's
 * frames are the router's (real codec), the raw echo returns frames of the
 * asked sizes across real processes, the tracer lines up a real RpcClient
 * with a real child expert path; every child process is gone afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoChildren, EchoClient, EchoServer, TRACE_PARTS, TraceHost, callBytes, layerCall, traceCalls, type CallPlacement } from "../../bench/index.js";
import { ensureTinyModel } from "../../factory/index.js";
import { openModel, routerWeights, type LoadedModel } from "../../model/index.js";
import { RouterCore, placementKey, type DispatchPart } from "../../router/index.js";
import { decode } from "../../transport/index.js";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let m: LoadedModel;
beforeAll(() => {
  m = openModel(ensureTinyModel());
});
afterAll(() => m.close());

/** local.yaml's placement of layer 0: expert 0 on two hosts, 2:1. */
const where: CallPlacement = {
  hosts: ["a", "b", "c"],
  experts: Array.from({ length: 8 }, (_, e) => (e === 0 ? { layer: 0, expert: 0, hosts: ["a", "b"], weights: [2, 1] } : { layer: 0, expert: e, hosts: [e < 4 ? "a" : e < 7 ? "b" : "c"] })),
};

describe("layerCall", () => {
  it("sends one message per expert host with its experts' rows contiguous, splits a replicated expert by its weights and encodes decodable frames", () => {
    const cfg = m.config;
    const router = routerWeights(m.weights, cfg, 0).router;
    const call = layerCall(cfg, router, 0, 64, where, "f32", 3);
    const seen = new Array<number>(64).fill(0);
    const e0Rows = new Map<string, number>();
    expect(new Set(call.dispatches.map((d) => d.host)).size).toBe(call.dispatches.length);
    for (const d of call.dispatches) {
      const got = decode(d.frame, { dModel: cfg.dModel, kinds: ["moe.dispatch"] });
      expect(got.kind).toBe("moe.dispatch");
      if (got.kind !== "moe.dispatch") continue;
      expect([...got.row]).toEqual([...d.message.row]);
      expect([...got.expert]).toEqual([...d.message.expert]);
      expect(got.expert.length).toBe(got.row.length);
      expect(got.hidden).toEqual(d.message.hidden);
      for (const r of got.row) seen[r]!++;
      const res = decode(d.resultFrame, { dModel: cfg.dModel, kinds: ["moe.result"] });
      expect(res.kind).toBe("moe.result");
      if (res.kind === "moe.result") expect([...res.expert]).toEqual([...got.expert]);
      // each expert's rows form one run, and every expert a host gets is placed there
      const runs = [...got.expert].filter((e, i) => i === 0 || got.expert[i - 1] !== e);
      expect(new Set(runs).size).toBe(runs.length);
      const host = where.hosts[d.host]!;
      for (const e of runs) expect(where.experts[e]!.hosts).toContain(host);
      for (const e of runs) if (e !== 0) expect(host).toBe(where.experts[e]!.hosts[0]);
      e0Rows.set(host, got.expert.filter((e) => e === 0).length);
    }
    expect(seen.every((n) => n === cfg.nExpertsUsed)).toBe(true);
    const a = e0Rows.get("a") ?? 0;
    const b = e0Rows.get("b") ?? 0;
    if (a + b >= 3) {
      expect(a).toBeGreaterThan(0);
      expect(b).toBeGreaterThan(0);
      expect(Math.abs(a - 2 * b)).toBeLessThanOrEqual(2);
    }
    const bytes = callBytes(call);
    expect(bytes.out).toBe(call.dispatches.reduce((x, d) => x + d.frame.byteLength, 0));
    expect(bytes.back).toBeGreaterThan(64 * cfg.nExpertsUsed * cfg.dModel * 4);
  });

  it("builds the frames the router sends: the same messages reach a real expert transport", async () => {
    const cfg = m.config;
    const router = routerWeights(m.weights, cfg, 0).router;
    const call = layerCall(cfg, router, 0, 16, where, "f32", 9);
    const seen: { host: string; expert: number[]; row: number[] }[] = [];
    const transport = {
      call: async (host: string, _layer: number, parts: readonly DispatchPart[]) => {
        seen.push({ host, expert: parts.flatMap((p) => Array.from(p.rows.row, () => p.expert)), row: parts.flatMap((p) => [...p.rows.row]) });
        return parts.map((p) => new Float32Array(p.rows.hidden.length));
      },
    };
    const placement = new Map(where.experts.map((x) => [placementKey(x.layer, x.expert), [...x.hosts]]));
    const replicaWeights = new Map(where.experts.flatMap((x) => (x.weights ? [[placementKey(x.layer, x.expert), [...x.weights]] as const] : [])));
    const core = new RouterCore({ ...cfg, nLayers: 1 }, new Map([[0, router]]), placement, transport, { replicaWeights });
    await core.moe(0, call.m, call.seq, call.pos, Date.now() + 10_000);
    expect(seen).toEqual(call.dispatches.map((d) => ({ host: where.hosts[d.host]!, expert: [...d.message.expert], row: [...d.message.row] })));
  });
});

describe("raw ZeroMQ echo", () => {
  it("answers each frame with a reply of the asked size, across processes and in process, and leaves no process behind", async () => {
    const children = await EchoChildren.start(2);
    const local = await EchoServer.bind();
    const pids = children.pids;
    expect(pids.every(alive)).toBe(true);
    const raw = EchoClient.connect([...children.endpoints, local.endpoint]);
    try {
      const frames = EchoClient.prepare([
        { host: 0, frame: new Uint8Array(4096), replyBytes: 2032 },
        { host: 1, frame: new Uint8Array(100), replyBytes: 70_000 },
        { host: 2, frame: new Uint8Array(8), replyBytes: 4 },
        { host: 0, frame: new Uint8Array(64), replyBytes: 0 },
      ]);
      for (let i = 0; i < 3; i++) expect(await raw.call(frames)).toBeGreaterThan(0);
    } finally {
      raw.close();
      await local.close();
      await children.close();
    }
    expect(pids.some(alive)).toBe(false);
  });
});

describe("traced round trip", () => {
  it("cuts calls to a child expert host into intervals that line up", async () => {
    const cfg = m.config;
    const host = await TraceHost.start(ensureTinyModel(), 0, 1, cfg.dModel);
    const pid = host.pid;
    try {
      const one: CallPlacement = { hosts: ["t"], experts: Array.from({ length: 8 }, (_, e) => ({ layer: 0, expert: e, hosts: ["t"] })) };
      const call = layerCall(cfg, routerWeights(m.weights, cfg, 0).router, 0, 16, one, "f32", 5);
      const t = await traceCalls(host, call, 8);
      expect(t.calls).toBe(8);
      expect(t.messages).toBe(call.dispatches.length);
      expect(t.ortRun).toBeGreaterThan(0);
      for (const [p] of TRACE_PARTS) expect(Number.isFinite(t[p])).toBe(true);
      // the onnxruntime run, the decode and the wake-up happen inside the call
      expect(t.ortRun + t.serverDecode + t.batchWake).toBeLessThan(t.total);
    } finally {
      await host.close();
    }
    expect(alive(pid)).toBe(false);
  });
});
