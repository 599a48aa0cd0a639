/**
 * An expert process of the cluster (control/node.ts, startNode) through a re-plan's two phases, as a
 * dynamic host's agent drives them: the new plan keeps some of a layer's experts here and moves the others
 * away; on activation the layer session is rebuilt from the model on disk with only the kept experts. Checked
 * through what a user sees: its status over the control socket (real ZeroMQ, status wire) reports the resident
 * expert count and weight bytes of the kept experts only, its log says what was freed, and dispatches over
 * its data socket give the kept experts' rows exactly as before, while rows for a moved expert are refused.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pingOnce, startNode, type RunningNode, type Runtime } from "../../control/index.js";
import { ensureTinyModel } from "../../factory/index.js";
import { expertWeightBytes, expertWeights, mulberry32, openModel, type LoadedModel } from "../../model/index.js";
import { ZmqExpertTransport } from "../../router/index.js";

let m: LoadedModel;
let node: RunningNode | undefined;
let transport: ZmqExpertTransport | undefined;
const logs: Record<string, unknown>[] = [];
const ALL = [0, 1, 2, 3, 4, 5, 6, 7];
const on = (layer: number, experts: number[]) => experts.map((e) => [layer, e] as [number, number]);

beforeAll(() => {
  m = openModel(ensureTinyModel());
});

afterAll(async () => {
  await transport?.close();
  await node?.close();
  m?.close();
});

/** A runtime with one expert process, `ex` on host `h`, holding `experts`. */
function runtime(path: string, experts: [number, number][], version: number): Runtime {
  const c = m.config;
  return {
    version: 1,
    cluster: "unload-test",
    source: "unload-test.yaml",
    runDir: "/nonexistent",
    createdAt: new Date(0).toISOString(),
    model: { path, name: "grok-1-tiny", layers: c.nLayers, experts: c.nExperts, dModel: c.dModel, vocabSize: c.vocabSize },
    wireDtype: "f32",
    curve: null,
    timeouts: { stepMs: 30_000, dispatchMs: 5_000, sequenceIdleMs: 300_000 },
    stages: [],
    expertHosts: { h: "tcp://127.0.0.1:0" },
    experts: experts.map(([layer, expert]) => ({ layer, expert, hosts: ["h"] })),
    gateway: null,
    limits: null,
    processes: [{ name: "ex", host: "h", role: "expert", endpoint: "tcp://127.0.0.1:0", bind: "tcp://127.0.0.1:0", control: "tcp://127.0.0.1:0", controlBind: "tcp://127.0.0.1:0", threads: 1, executionProvider: "cpu", local: true, experts }],
    dynamic: { nats: "nats://127.0.0.1:1", epoch: 1, version },
  };
}

const bytesOf = (pairs: [number, number][]) => pairs.reduce((a, [l, e]) => a + expertWeightBytes(expertWeights(m.weights, l, e)), 0);

describe("an expert process through a re-plan that moves some of a layer's experts away", () => {
  it("rebuilds the layer session with the kept experts: status and log report only their weights; dispatches of kept experts are exact, of moved ones refused", async () => {
    const path = ensureTinyModel();
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split("\n")) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const all = [...on(0, ALL), ...on(1, ALL)];
    const first = runtime(path, all, 1);
    node = await startNode({ runtime: first, process: "ex", logger: pino({ level: "info" }, sink) });
    const ctx = { name: "ex", host: "h", expertHosts: ["h"] };
    const status = async () => (await pingOnce(node!.control, ctx, 5000)).status!.expert!;
    expect(await status()).toMatchObject({ experts: 16, residentExperts: 16, residentWeightBytes: bytesOf(all) });

    const D = m.config.dModel;
    transport = new ZmqExpertTransport({ hosts: new Map([["h", node.endpoint]]), dModel: D, name: "unload-router" });
    const r = mulberry32(3);
    const rows = (n: number) => ({ row: Uint32Array.from({ length: n }, (_, i) => i), seq: new Uint32Array(n), pos: new Uint32Array(n), hidden: Float32Array.from({ length: n * D }, () => (r() - 0.5) * 3) });
    const a = rows(3);
    const b = rows(2);
    const call = (layer: number, parts: { expert: number; rows: ReturnType<typeof rows> }[]) => transport!.call("h", layer, parts, Date.now() + 5000);
    const before0 = await call(0, [{ expert: 2, rows: a }, { expert: 6, rows: b }]);
    const before1 = await call(1, [{ expert: 0, rows: a }]);

    const kept = [...on(0, [2, 6]), ...on(1, ALL)];
    const next = runtime(path, kept, 2);
    await node.prepare(next);
    await node.activate(next);

    expect(await status()).toMatchObject({ experts: 10, residentExperts: 10, residentWeightBytes: bytesOf(kept) });
    const line = logs.find((l) => l.msg === "unloaded the experts the new plan moved away");
    expect(line).toMatchObject({ unloaded: 6, closedSessions: 0, rebuiltSessions: 1, residentWeightBytes: bytesOf(kept), freedWeightBytes: bytesOf(on(0, [0, 1, 3, 4, 5, 7])) });
    expect(line!.rebuildMs).toEqual(expect.any(Number));
    expect(line!.rssBytes).toBeGreaterThan(0);
    expect(logs.some((l) => l.level === 40)).toBe(false);

    expect(await call(0, [{ expert: 2, rows: a }, { expert: 6, rows: b }])).toEqual(before0);
    expect(await call(1, [{ expert: 0, rows: a }])).toEqual(before1);
    await expect(call(0, [{ expert: 3, rows: a }])).rejects.toThrow(/expert 3 of layer 0 is not loaded on host h/);
  });
});
