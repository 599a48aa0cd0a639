/**
 * RouterCore over real ZeroMQ expert hosts (in this process, real sockets and
 * onnxruntime sessions) on the tiny model: its MoE output equals the
 * single-process MoE; replicated experts split their rows by the plan's
 * weights; a closed replica is failed over; an expert with no live host fails
 * with an error naming layer, expert and host.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalMoe, mulberry32, openModel, routerWeights, type LoadedModel } from "../../model/index.js";
import { ensureTinyModel } from "../../factory/index.js";
import { ExpertUnavailableError, placementKey, RouterCore, splitShares, ZmqExpertTransport } from "../../router/index.js";
import { ExpertHost } from "../../stages/index.js";

let m: LoadedModel;
let local: LocalMoe;
const hosts: ExpertHost[] = [];
const transports: ZmqExpertTransport[] = [];

beforeAll(async () => {
  m = openModel(ensureTinyModel());
  local = await LocalMoe.create(m.config, m.weights, 0, 1);
});

afterAll(async () => {
  for (const t of transports) await t.close();
  for (const h of hosts) await h.close();
  await local?.close();
  m?.close();
});

/** Rows [n, D] of O(1) values. */
function rows(n: number, seed: number): { m: Float32Array; seq: Uint32Array; pos: Uint32Array } {
  const r = mulberry32(seed);
  const D = m.config.dModel;
  return { m: Float32Array.from({ length: n * D }, () => (r() - 0.5) * 3), seq: Uint32Array.from({ length: n }, (_, i) => i), pos: Uint32Array.from({ length: n }, (_, i) => i) };
}

async function host(name: string, experts: number[]): Promise<ExpertHost> {
  const h = await ExpertHost.start({ name, config: m.config, weights: m.weights, experts: experts.map((e) => [0, e] as const), endpoint: "tcp://127.0.0.1:0" });
  hosts.push(h);
  return h;
}

function router(place: Record<number, string[]>, endpoints: Map<string, string>, weights?: Record<number, number[]>, dispatchTimeoutMs = 2000, holdForPlacement = false): RouterCore {
  return routerAndTransport(place, endpoints, weights, dispatchTimeoutMs, holdForPlacement).router;
}

function routerAndTransport(place: Record<number, string[]>, endpoints: Map<string, string>, weights?: Record<number, number[]>, dispatchTimeoutMs = 2000, holdForPlacement = false) {
  const transport = new ZmqExpertTransport({ hosts: endpoints, dModel: m.config.dModel, name: "test-router" });
  transports.push(transport);
  const placement = new Map(Object.entries(place).map(([e, hs]) => [placementKey(0, Number(e)), hs]));
  const replicaWeights = new Map(Object.entries(weights ?? {}).map(([e, w]) => [placementKey(0, Number(e)), w]));
  return { router: new RouterCore(m.config, new Map([[0, routerWeights(m.weights, m.config, 0).router]]), placement, transport, { dispatchTimeoutMs, replicaWeights, holdForPlacement }), transport };
}

const EXPERTS = [0, 1, 2, 3, 4, 5, 6, 7];
const on = (h: string) => Object.fromEntries(EXPERTS.map((e) => [e, [h]]));

describe("splitShares", () => {
  it("splits by weight with largest remainders, over healthy replicas only", () => {
    const all = () => true;
    expect(splitShares(30, ["a", "b"], [2, 1], all)).toEqual([20, 10]);
    expect(splitShares(31, ["a", "b"], [2, 1], all)).toEqual([21, 10]);
    expect(splitShares(7, ["a", "b", "c"], [1, 1, 1], all)).toEqual([3, 2, 2]);
    expect(splitShares(30, ["a", "b"], [2, 1], (h) => h !== "b")).toEqual([0, 0]); // one usable: no split
    expect(splitShares(1, ["a", "b"], [1, 1], all)).toEqual([0, 0]);
    expect(splitShares(10, ["a", "b"], [1, 0], all)).toEqual([0, 0]);
  });
});

describe("RouterCore over ZeroMQ expert hosts", () => {
  it("combines exactly what the single-process MoE computes, with experts spread unevenly over two hosts", async () => {
    const a = await host("a", [0, 1, 2, 3, 4]);
    const b = await host("b", [5, 6, 7]);
    const place = Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7].map((e) => [e, [e < 5 ? "a" : "b"]]));
    const r = router(place, new Map([["a", a.endpoint], ["b", b.endpoint]]));
    const x = rows(24, 1);
    const y = await r.moe(0, x.m, x.seq, x.pos, Date.now() + 10_000);
    expect(Array.from(y)).toEqual(Array.from(await local.run(0, x.m)));
    expect(r.load[0]!.reduce((s, n) => s + n, 0)).toBe(24 * m.config.nExpertsUsed);
    expect(a.batcher.stats.rows + b.batcher.stats.rows).toBe(24 * m.config.nExpertsUsed);
  });

  it("splits a replicated expert's rows across its replicas by the plan's weights, and fails over when one goes", async () => {
    const all = [0, 1, 2, 3, 4, 5, 6, 7];
    const a = await host("ra", all);
    const b = await host("rb", all);
    const place = Object.fromEntries(all.map((e) => [e, ["ra", "rb"]]));
    const weights = Object.fromEntries(all.map((e) => [e, [2, 1]]));
    const r = router(place, new Map([["ra", a.endpoint], ["rb", b.endpoint]]), weights, 1000);
    const x = rows(60, 2);
    const y = await r.moe(0, x.m, x.seq, x.pos, Date.now() + 10_000);
    expect(Array.from(y)).toEqual(Array.from(await local.run(0, x.m)));
    // what the split should have sent to each replica, group by group
    const expected = [0, 0];
    for (const n of r.load[0]!) splitShares(n, ["ra", "rb"], [2, 1], () => true).forEach((k, i) => (expected[i]! += n >= 2 ? k : i === 0 ? n : 0));
    expect([a.batcher.stats.rows, b.batcher.stats.rows]).toEqual(expected);
    expect(a.batcher.stats.rows).toBeGreaterThan(1.5 * b.batcher.stats.rows);

    await b.close();
    const z = await r.moe(0, x.m, x.seq, x.pos, Date.now() + 10_000);
    expect(Array.from(z)).toEqual(Array.from(y));
    expect(r.hostHealth().get("rb")!.downUntil).toBeGreaterThan(Date.now());
  });

  it("fails with an error naming layer, expert and host when the only host of an expert is gone", async () => {
    const a = await host("only-a", [0, 1, 2, 3, 4, 5, 6, 7]);
    const r = router(Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7].map((e) => [e, ["only-a"]])), new Map([["only-a", a.endpoint]]), undefined, 500);
    const x = rows(8, 3);
    await r.moe(0, x.m, x.seq, x.pos, Date.now() + 5000); // connected and working
    await a.close();
    const t0 = Date.now();
    const err = await r.moe(0, x.m, x.seq, x.pos, Date.now() + 5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpertUnavailableError);
    expect((err as ExpertUnavailableError).layer).toBe(0);
    expect((err as Error).message).toMatch(/expert \(layer 0, expert \d\) unavailable: host only-a: /);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("holds a dispatch whose only host is gone until a re-plan places its experts elsewhere, then answers exactly", async () => {
    const a = await host("hold-a", EXPERTS);
    const { router: r, transport } = routerAndTransport(on("hold-a"), new Map([["hold-a", a.endpoint]]), undefined, 500, true);
    const x = rows(16, 4);
    await r.moe(0, x.m, x.seq, x.pos, Date.now() + 5000);
    await a.close();
    const pending = r.moe(0, x.m, x.seq, x.pos, Date.now() + 10_000);
    // the re-plan: experts loaded on a new host, then the router switches
    await new Promise((res) => setTimeout(res, 800));
    const b = await host("hold-b", []);
    expect(await b.addExperts(EXPERTS.map((e) => [0, e] as const))).toBe(8);
    const closing = transport.setHosts(new Map([["hold-b", b.endpoint]]));
    r.setPlacement(new Map(EXPERTS.map((e) => [placementKey(0, e), ["hold-b"]])));
    await closing;
    const y = await pending;
    expect(Array.from(y)).toEqual(Array.from(await local.run(0, x.m)));
    expect(r.hosts()).toEqual(["hold-b"]);
    expect(b.batcher.stats.rows).toBe(16 * m.config.nExpertsUsed);
  });

  it("fails naming the re-plan when no new placement arrives before the deadline; refuses a placement that lacks an expert", async () => {
    const a = await host("late-a", EXPERTS);
    const r = router(on("late-a"), new Map([["late-a", a.endpoint]]), undefined, 300, true);
    const x = rows(4, 5);
    await r.moe(0, x.m, x.seq, x.pos, Date.now() + 5000);
    await a.close();
    const err = await r.moe(0, x.m, x.seq, x.pos, Date.now() + 1500).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpertUnavailableError);
    expect((err as Error).message).toMatch(/host late-a: .*host \(re-plan\): no new placement arrived before the request's deadline/);
    expect(() => r.setPlacement(new Map(EXPERTS.slice(1).map((e) => [placementKey(0, e), ["late-a"]])))).toThrow(/no host holds expert 0 of layer 0/);
  });

  it("an expert host unloads experts a re-plan moved away and refuses rows for them", async () => {
    const a = await host("unload-a", EXPERTS);
    expect((await a.retainOnly([[0, 1], [0, 2]])).unloaded).toBe(6);
    expect(a.experts()).toEqual([[0, 1], [0, 2]]);
    const r = router(on("unload-a"), new Map([["unload-a", a.endpoint]]), undefined, 500);
    const x = rows(8, 6);
    const err = await r.moe(0, x.m, x.seq, x.pos, Date.now() + 3000).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/is not loaded on host unload-a/);
  });
});

describe("ZmqExpertTransport", () => {
  it("sends parts that are views of one buffer as they are and parts in separate buffers copied together, with the same results", async () => {
    const h = await host("parts", [2, 5]);
    const t = new ZmqExpertTransport({ hosts: new Map([["parts", h.endpoint]]), dModel: m.config.dModel, name: "parts-router" });
    transports.push(t);
    const D = m.config.dModel;
    const x = rows(5, 8);
    const row = Uint32Array.from([0, 1, 2, 3, 4]);
    // one buffer: expert 2 gets rows 0–2, expert 5 rows 3–4 (views in order, as RouterCore builds them)
    const view = (a: number, b: number) => ({ row: row.subarray(a, b), seq: x.seq.subarray(a, b), pos: x.pos.subarray(a, b), hidden: x.m.subarray(a * D, b * D) });
    const joined = await t.call("parts", 0, [{ expert: 2, rows: view(0, 3) }, { expert: 5, rows: view(3, 5) }], Date.now() + 5000);
    // separate buffers, and views of one buffer out of order: copied into one message
    const copy = (a: number, b: number) => ({ row: row.slice(a, b), seq: x.seq.slice(a, b), pos: x.pos.slice(a, b), hidden: x.m.slice(a * D, b * D) });
    const separate = await t.call("parts", 0, [{ expert: 2, rows: copy(0, 3) }, { expert: 5, rows: copy(3, 5) }], Date.now() + 5000);
    const swapped = await t.call("parts", 0, [{ expert: 5, rows: view(3, 5) }, { expert: 2, rows: view(0, 3) }], Date.now() + 5000);
    const alone = [await t.call("parts", 0, [{ expert: 2, rows: copy(0, 3) }], Date.now() + 5000), await t.call("parts", 0, [{ expert: 5, rows: copy(3, 5) }], Date.now() + 5000)];
    expect(joined.map((y) => y.length)).toEqual([3 * D, 2 * D]);
    expect(joined[0]).toEqual(alone[0]![0]);
    expect(joined[1]).toEqual(alone[1]![0]);
    expect(separate).toEqual(joined);
    expect(swapped).toEqual([joined[1], joined[0]]);
    expect(joined[0]!.some((v) => v !== 0)).toBe(true);
  });
});
