/**
 * A re-plan that moves some of a layer session's experts away (ExpertHost.retainOnly, stages/expert-sessions.ts)
 * with real onnxruntime sessions on the tiny model, f32 and Q8_0: the session is rebuilt with only the
 * experts it keeps, so the host's resident expert weights drop by exactly the dropped experts' bytes; the kept
 * experts' outputs are bit-identical before, during and after the swap; a batch planned on the old session
 * before the swap finishes on it before it is closed; a session that cannot be rebuilt keeps serving.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ExpertLayerBlock, expertWeightBytes, expertWeights, mulberry32, openModel, presetConfig, type LoadedModel } from "../../model/index.js";
import { generateModel } from "../../factory/index.js";
import { ExpertHost, ExpertSessions } from "../../stages/index.js";

const root = mkdtempSync(join(tmpdir(), "moe-expert-unload-"));
const models = new Map<string, LoadedModel>();
const hosts: ExpertHost[] = [];
const ALL = [0, 1, 2, 3, 4, 5, 6, 7];

beforeAll(() => {
  for (const dtype of ["f32", "q8_0"] as const) {
    generateModel({ config: presetConfig("grok-1-tiny"), outDir: join(root, dtype), format: "gguf", dtype, seed: 23 });
    models.set(dtype, openModel(join(root, dtype)));
  }
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  for (const h of hosts) await h.close();
  for (const m of models.values()) m.close();
  rmSync(root, { recursive: true, force: true });
});

async function host(m: LoadedModel, name: string, experts: [number, number][]): Promise<ExpertHost> {
  const h = await ExpertHost.start({ name, config: m.config, weights: m.weights, experts, endpoint: "tcp://127.0.0.1:0" });
  hosts.push(h);
  return h;
}

const on = (layer: number, experts: number[]) => experts.map((e) => [layer, e] as [number, number]);

/** A request: rows of O(1) values for `experts` (one row each). */
function request(m: LoadedModel, experts: number[], seed: number): { hidden: Float32Array; expert: Uint32Array } {
  const r = mulberry32(seed);
  return { hidden: Float32Array.from({ length: experts.length * m.config.dModel }, () => (r() - 0.5) * 3), expert: Uint32Array.from(experts) };
}

/** Bytes of (layer, expert)'s weights as stored, read from the file. */
const bytesOf = (m: LoadedModel, pairs: [number, number][]) => pairs.reduce((a, [l, e]) => a + expertWeightBytes(expertWeights(m.weights, l, e)), 0);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("partial unload of a layer session", () => {
  for (const dtype of ["f32", "q8_0"] as const)
    it(`${dtype}: rebuilds the session with only the kept experts; their outputs are bit-identical to before; the dropped experts' weight bytes are freed`, async () => {
      const m = models.get(dtype)!;
      const h = await host(m, `partial-${dtype}`, [...on(0, ALL), ...on(1, ALL)]);
      const total = bytesOf(m, [...on(0, ALL), ...on(1, ALL)]);
      expect(h.resident()).toEqual({ experts: 16, weightBytes: total });
      const q0 = request(m, [1, 1, 2, 5, 5, 5], 1);
      const q1 = request(m, [0, 7, 7], 2);
      const before0 = Array.from(await h.batcher.submit(0, q0.hidden, q0.expert));
      const before1 = Array.from(await h.batcher.submit(1, q1.hidden, q1.expert));

      const r = await h.retainOnly([...on(0, [1, 2, 5]), ...on(1, ALL)]);
      const dropped = bytesOf(m, on(0, [0, 3, 4, 6, 7]));
      expect(r).toMatchObject({ unloaded: 5, closedSessions: 0, failed: [], residentWeightBytes: { before: total, after: total - dropped } });
      expect(r.rebuilt).toEqual([{ layer: 0, experts: [1, 2, 5], freedBytes: dropped }]);
      expect(r.rebuildMs).toBeGreaterThan(0);
      expect(h.resident()).toEqual({ experts: 11, weightBytes: total - dropped });
      expect(h.experts()).toEqual([...on(0, [1, 2, 5]), ...on(1, ALL)]);

      const runs = h.batcher.stats.runs;
      expect(Array.from(await h.batcher.submit(0, q0.hidden, q0.expert))).toEqual(before0);
      expect(Array.from(await h.batcher.submit(1, q1.hidden, q1.expert))).toEqual(before1);
      // still one run per layer: the kept experts of layer 0 are one session
      expect(h.batcher.stats.runs - runs).toBe(2);
      await expect(h.batcher.submit(0, q0.hidden, Uint32Array.from([1, 1, 3, 5, 5, 5]))).rejects.toThrow(/expert 3 of layer 0 is not loaded on this host/);

      // the rebuilt session loses one more: rebuilt again, still exact
      const r2 = await h.retainOnly([...on(0, [2, 5]), ...on(1, ALL)]);
      expect(r2.rebuilt).toEqual([{ layer: 0, experts: [2, 5], freedBytes: bytesOf(m, on(0, [1])) }]);
      expect(h.resident()).toEqual({ experts: 10, weightBytes: total - dropped - bytesOf(m, on(0, [1])) });
      await expect(h.batcher.submit(0, q0.hidden, q0.expert)).rejects.toThrow(/expert 1 of layer 0 is not loaded on this host/);
      // q0's rows of experts 2 and 5 (rows 2 and 3) give what the first session gave for them
      const D = m.config.dModel;
      const probe = { hidden: q0.hidden.slice(2 * D, 4 * D), expert: Uint32Array.from([2, 5]) };
      expect(Array.from(await h.batcher.submit(0, probe.hidden, probe.expert))).toEqual(before0.slice(2 * D, 4 * D));
    });

  it("a batch for kept experts that started on the old session before its rebuild runs on it across the swap, exactly; the old session is closed only after that", async () => {
    const m = models.get("q8_0")!;
    const h = await host(m, "swap", on(0, ALL));
    const q = request(m, [1, 1, 5], 4);
    const want = Array.from(await h.batcher.submit(0, q.hidden, q.expert));
    const events: string[] = [];
    let during: Promise<Float32Array> | undefined;
    const rebuild = ExpertSessions.prototype.rebuild;
    const run = ExpertLayerBlock.prototype.run;
    const close = ExpertLayerBlock.prototype.close;
    vi.spyOn(ExpertSessions.prototype, "rebuild").mockImplementation(async function (this: ExpertSessions, layer, old, weights) {
      // the request arrives as the rebuild starts, and its batch starts (on the old session, which still serves
      // experts 1 and 5) before the new session is built (building holds the event loop: no batch starts meanwhile)
      during = h.batcher.submit(0, q.hidden, q.expert);
      await new Promise((r) => setImmediate(r));
      const r = await rebuild.call(this, layer, old, weights);
      events.push("swapped");
      return r;
    });
    // the old session's run (8 experts) of that request is held until the new session has been swapped in
    vi.spyOn(ExpertLayerBlock.prototype, "run").mockImplementation(async function (this: ExpertLayerBlock, x, rows) {
      if (this.experts.length === 8 && during) {
        events.push("old session run starts");
        while (!events.includes("swapped")) await sleep(2);
        const y = await run.call(this, x, rows);
        events.push("old session run done");
        return y;
      }
      return run.call(this, x, rows);
    });
    vi.spyOn(ExpertLayerBlock.prototype, "close").mockImplementation(async function (this: ExpertLayerBlock) {
      if (this.experts.length === 8) events.push("old session closed");
      return close.call(this);
    });
    const r = await h.retainOnly(on(0, [1, 5]));
    expect(r.rebuilt.map((x) => x.experts)).toEqual([[1, 5]]);
    expect(events).toEqual(["old session run starts", "swapped", "old session run done", "old session closed"]);
    expect(Array.from(await during!)).toEqual(want);
    expect(Array.from(await h.batcher.submit(0, q.hidden, q.expert))).toEqual(want);
  });

  it("the batcher's idle() waits for every batch running at the call, also one that started before another that has finished", async () => {
    const m = models.get("f32")!;
    const h = await host(m, "idle", on(0, ALL));
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const run = ExpertLayerBlock.prototype.run;
    vi.spyOn(ExpertLayerBlock.prototype, "run").mockImplementation(async function (this: ExpertLayerBlock, x, rows) {
      if (rows.experts.includes(7)) await gate;
      return run.call(this, x, rows);
    });
    const slow = request(m, [7], 9);
    let slowDone = false;
    const first = h.batcher.submit(0, slow.hidden, slow.expert).then(() => (slowDone = true));
    await new Promise((r) => setImmediate(r)); // its batch is running (held at the gate)
    const quick = request(m, [1], 10);
    await h.batcher.submit(0, quick.hidden, quick.expert); // a second batch, started and finished meanwhile
    let idle = false;
    const waiting = h.batcher.idle().then(() => (idle = true));
    await sleep(30);
    expect([slowDone, idle]).toEqual([false, false]);
    release();
    await waiting;
    expect(slowDone).toBe(true);
    await first;
  });

  it("requests for kept experts sent without a pause while a partial unload runs are all served exactly", async () => {
    const m = models.get("f32")!;
    const h = await host(m, "flood", [...on(0, ALL), ...on(1, ALL)]);
    const reqs = [request(m, [0, 2, 2], 5), request(m, [6], 6), request(m, [2, 6, 6, 6], 7)];
    const want = await Promise.all(reqs.map(async (q) => Array.from(await h.batcher.submit(0, q.hidden, q.expert))));
    let done = false;
    let servedDuring = 0;
    let servedAfter = 0;
    const loop = async (k: number) => {
      for (let i = 0; ; i++) {
        const q = reqs[(k + i) % reqs.length]!;
        const y = Array.from(await h.batcher.submit(0, q.hidden, q.expert));
        expect(y).toEqual(want[(k + i) % reqs.length]);
        if (!done) servedDuring++;
        else if (++servedAfter >= 6) return;
      }
    };
    const loops = [0, 1, 2].map(loop);
    const r = await h.retainOnly([...on(0, [0, 2, 6]), ...on(1, [3])]);
    done = true;
    await Promise.all(loops);
    expect(r).toMatchObject({ unloaded: 12, failed: [] });
    expect(r.rebuilt.map((x) => [x.layer, x.experts])).toEqual([[0, [0, 2, 6]], [1, [3]]]);
    expect(servedDuring).toBeGreaterThan(0);
    expect(h.resident()).toEqual({ experts: 4, weightBytes: bytesOf(m, [...on(0, [0, 2, 6]), [1, 3]]) });
  });

  it("a session that cannot be rebuilt (its weights cannot be read) keeps serving its kept experts exactly, with the dropped ones' weights, and says why", async () => {
    const m = models.get("q8_0")!;
    const h = await host(m, "unreadable", on(0, ALL));
    const q = request(m, [3, 4], 8);
    const want = Array.from(await h.batcher.submit(0, q.hidden, q.expert));
    const gone = openModel(join(root, "q8_0"));
    gone.close();
    const r = await h.retainOnly(on(0, [3, 4]), gone.weights);
    expect(r.rebuilt).toEqual([]);
    expect(r.failed).toHaveLength(1);
    expect(r.failed[0]).toMatchObject({ layer: 0, experts: ALL });
    expect(r.failed[0]!.error.length).toBeGreaterThan(0);
    expect(h.experts()).toEqual(on(0, [3, 4]));
    expect(h.resident()).toEqual({ experts: 8, weightBytes: bytesOf(m, on(0, ALL)) });
    expect(Array.from(await h.batcher.submit(0, q.hidden, q.expert))).toEqual(want);
    // the next unload, with weights it can read, rebuilds it
    const r2 = await h.retainOnly(on(0, [3, 4]));
    expect(r2.rebuilt).toEqual([{ layer: 0, experts: [3, 4], freedBytes: bytesOf(m, on(0, [0, 1, 2, 5, 6, 7])) }]);
    expect(Array.from(await h.batcher.submit(0, q.hidden, q.expert))).toEqual(want);
  });
});
