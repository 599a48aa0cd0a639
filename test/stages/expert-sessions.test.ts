/**
 * An expert host's layer sessions (stages/expert-sessions.ts, stages/expert-batcher.ts) with real
 * onnxruntime sessions on the tiny model: requests for one layer that arrive together run as one
 * onnxruntime run per layer session (one per expert with expertSessions "expert"), every row's output
 * equal bit for bit to its expert's own session; re-plans add experts as a new session, drop some of a
 * session's experts (rebuilding it with the others: test/stages/expert-unload.test.ts), load a dropped one
 * again, and close a session once it serves none.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExpertBlock, expertWeights, gatherRows, mulberry32, openModel, type ComputeOptions, type LoadedModel } from "../../model/index.js";
import { ensureTinyModel } from "../../factory/index.js";
import { ExpertHost } from "../../stages/index.js";

let m: LoadedModel;
/** Each (layer, expert)'s own session: the reference. */
const own = new Map<string, ExpertBlock>();
const hosts: ExpertHost[] = [];

beforeAll(async () => {
  m = openModel(ensureTinyModel());
  for (const l of [0, 1]) for (let e = 0; e < m.config.nExperts; e++) own.set(`${l}:${e}`, await ExpertBlock.create(expertWeights(m.weights, l, e)));
});

afterAll(async () => {
  for (const h of hosts) await h.close();
  for (const b of own.values()) await b.close();
  m?.close();
});

async function host(name: string, experts: [number, number][], compute: ComputeOptions = {}): Promise<ExpertHost> {
  const h = await ExpertHost.start({ name, config: m.config, weights: m.weights, experts, endpoint: "tcp://127.0.0.1:0", compute });
  hosts.push(h);
  return h;
}

/** A request: R rows of O(1) values and each row's expert (runs of one expert, as routers send them). */
function request(experts: number[], seed: number): { hidden: Float32Array; expert: Uint32Array } {
  const r = mulberry32(seed);
  const D = m.config.dModel;
  return { hidden: Float32Array.from({ length: experts.length * D }, () => (r() - 0.5) * 3), expert: Uint32Array.from(experts) };
}

/**
 * What the experts' own sessions give for a batch of requests: per expert one run on its rows of every
 * request, in order (the batch the host runs); per request its rows' outputs in its row order.
 */
async function reference(layer: number, batch: readonly { hidden: Float32Array; expert: Uint32Array }[]): Promise<number[][]> {
  const D = m.config.dModel;
  const x = new Float32Array(batch.reduce((a, q) => a + q.hidden.length, 0));
  const experts: number[] = [];
  for (const q of batch) {
    x.set(q.hidden, experts.length * D);
    experts.push(...q.expert);
  }
  const y = new Float32Array(x.length);
  for (const e of new Set(experts)) {
    const rows = Int32Array.from(experts.flatMap((x, r) => (x === e ? [r] : [])));
    const out = await own.get(`${layer}:${e}`)!.run(gatherRows(x, D, rows));
    rows.forEach((r, i) => y.set(out.subarray(i * D, (i + 1) * D), r * D));
  }
  let at = 0;
  return batch.map((q) => Array.from(y.subarray(at * D, (at += q.expert.length) * D)));
}

const layer0 = (experts: number[]) => experts.map((e) => [0, e] as [number, number]);

describe("expert host layer sessions", () => {
  it("runs the rows of three requests for one layer in one onnxruntime run, each row exactly its expert's output; one run per expert with expertSessions 'expert'", async () => {
    const reqs = [request([3, 3, 5], 1), request([0, 1, 1, 7, 7, 7], 2), request([5], 3)];
    for (const [name, compute, runs] of [
      ["layer", {}, 1],
      ["per-expert", { expertSessions: "expert" }, 5],
    ] as const) {
      const h = await host(`batch-${name}`, layer0([0, 1, 2, 3, 4, 5, 6, 7]), compute);
      const ys = await Promise.all(reqs.map((q) => h.batcher.submit(0, q.hidden, q.expert)));
      expect(h.batcher.stats).toEqual({ runs, requests: 3, rows: 10 });
      const want = await reference(0, reqs);
      for (const [i, y] of ys.entries()) expect(Array.from(y)).toEqual(want[i]);
    }
  });

  it("answers a lone request with its rows in order whether or not they come grouped by expert in the session's order", async () => {
    const h = await host("lone", layer0([0, 2, 5, 7]));
    // grouped in the session's order (what a router sends: the run's output is the answer as it is), then
    // interleaved and out of the session's order (the run's output rows are put back in the request's order)
    for (const [i, experts] of [[0, 0, 2, 5, 5, 5, 7], [7, 0, 5, 0, 2, 7, 5], [5, 5, 2]].entries()) {
      const q = request(experts, 10 + i);
      const y = await h.batcher.submit(0, q.hidden, q.expert);
      expect(y.length).toBe(q.hidden.length);
      expect(Array.from(y)).toEqual((await reference(0, [q]))[0]);
    }
    expect(h.batcher.stats).toEqual({ runs: 3, requests: 3, rows: 17 });
  });

  it("a re-plan's experts become a session of their own; dropped experts stop being served, a session serving none is closed, one serving some is rebuilt with those; a dropped expert is loaded again", async () => {
    const h = await host("replan", layer0([0, 1, 2, 3]));
    expect(await h.addExperts([...layer0([3, 4, 5]), [1, 2]])).toBe(3);
    expect(h.experts()).toEqual([...layer0([0, 1, 2, 3, 4, 5]), [1, 2]]);
    // rows for experts of both layer-0 sessions: two runs
    const q = request([1, 4, 4, 0], 4);
    expect(Array.from(await h.batcher.submit(0, q.hidden, q.expert))).toEqual((await reference(0, [q]))[0]);
    expect(h.batcher.stats.runs).toBe(2);
    const q1 = request([2, 2], 5);
    expect(Array.from(await h.batcher.submit(1, q1.hidden, q1.expert))).toEqual((await reference(1, [q1]))[0]);

    // keep 1 and 2 of the first session (rebuilt with only them); drop the second session (4, 5) and layer 1's whole
    const r = await h.retainOnly(layer0([1, 2]));
    expect(r).toMatchObject({ unloaded: 5, closedSessions: 2, failed: [] });
    expect(r.rebuilt.map((x) => [x.layer, x.experts])).toEqual([[0, [1, 2]]]);
    expect(h.experts()).toEqual(layer0([1, 2]));
    expect(h.resident().experts).toBe(2);
    await expect(h.batcher.submit(0, q.hidden, q.expert)).rejects.toThrow(/expert 4 of layer 0 is not loaded on this host/);
    // 3 left with the rebuilt session: loaded again (a session of its own); it answers exactly
    expect(await h.addExperts(layer0([3]))).toBe(1);
    expect(h.resident().experts).toBe(3);
    const q3 = request([1, 3], 6);
    expect(Array.from(await h.batcher.submit(0, q3.hidden, q3.expert))).toEqual((await reference(0, [q3]))[0]);
    await expect(h.addExperts([[0, 8]])).rejects.toThrow(/\(layer 0, expert 8\) is outside the model/);
  });
});
