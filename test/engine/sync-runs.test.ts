/**
 * Synchronous runs through onnxruntime-node's native binding (model/blocks/native-session.ts) and the
 * head's statistics from a second graph (model/blocks/head-block.ts) change no number: each is compared,
 * in the same test, with the previous path (public async API; statistics inside the head graph) on
 * real sessions, bit for bit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildHeadGraph,
  createGraphSession,
  createSession,
  Elem,
  Engine,
  f32Tensor,
  GraphBuilder,
  HeadBlock,
  linearOptions,
  MAX_LOOP_HOLD_MS,
  nativeBinding,
  openModel,
  presetConfig,
  quantizeQ8_0,
  STATS_ROWS,
  stepRows,
  type BlockSession,
  type ComputeOptions,
  type HeadWeights,
  type ModelConfig,
} from "../../model/index.js";
import { generateModel } from "../../factory/index.js";

const root = mkdtempSync(join(tmpdir(), "moe-sync-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The bytes of a float array, for exact (bitwise, NaN- and −0-aware) comparison. */
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** y = x·Wᵀ + b with W [out, in] stored as external data (in-memory "files" handed over as `externalData`). */
function externalGemm(out: number, inp: number) {
  const g = new GraphBuilder("gemm", { externalMinBytes: 1024 });
  const x = g.input("x", Elem.FLOAT, ["R", inp]);
  const w = g.f32("w", new Float32Array(out * inp).map((_, i) => Math.sin(i * 0.61)), [out, inp]);
  const b = g.f32("b", new Float32Array(out).map((_, i) => Math.cos(i)), [out]);
  g.output("y", g.op("Gemm", [x, w, b], { transB: 1 }), Elem.FLOAT, ["R", out]);
  return g.build();
}

describe("the native binding", () => {
  it("is the one checked in this onnxruntime-node (else every run takes the public API: update CHECKED_ORT_VERSIONS after checking it)", () => {
    const n = nativeBinding();
    expect(n.reason).toBeUndefined();
    expect(n.binding).toBeDefined();
  });

  it("takes the session options as the public API does, external initializers included: the same outputs", async () => {
    const graph = externalGemm(96, 64);
    expect(graph.external.length).toBeGreaterThan(0);
    const x = new Float32Array(3 * 64).map((_, i) => Math.sin(i * 0.3) * 4);
    /** The output of one run, and whether the event loop turned during it (the public API's run waits for a `setImmediate`; a native run right after a turn does not). */
    const runOnce = async (s: BlockSession, feeds: ort.InferenceSession.FeedsType) => {
      await new Promise((r) => setImmediate(r));
      let turned = false;
      setImmediate(() => (turned = true));
      const y = (await s.run(3, feeds)).y!.data as Float32Array;
      return { y, turned };
    };
    for (const threads of [1, 2]) {
      const sync = await createGraphSession(graph, { threads });
      const pub = await createGraphSession(graph, { threads, syncRuns: false });
      try {
        const want = await runOnce(pub.session, { x: f32Tensor(x, [3, 64]) });
        const got = await runOnce(sync.session, { x: f32Tensor(x, [3, 64]) });
        expect([want.turned, got.turned]).toEqual([true, false]); // the public API, then the native binding
        expect(want.y.length).toBe(3 * 96);
        expect(bytes(got.y).equals(bytes(want.y))).toBe(true);
        // a missing input is an error, not a silent run
        await expect(sync.session.run(3, {})).rejects.toThrow(/x/);
      } finally {
        await sync.session.release();
        await pub.session.release();
      }
    }
  });

  it("async runs let the event loop turn once they have held it for MAX_LOOP_HOLD_MS", async () => {
    const s = await createGraphSession(externalGemm(256, 256), { threads: 1 });
    try {
      const x = new Float32Array(64 * 256).fill(0.5);
      await new Promise((r) => setImmediate(r)); // the loop turns now: nothing has held it yet
      let turned = false;
      setImmediate(() => (turned = true));
      const t0 = performance.now();
      let runs = 0;
      while (!turned && performance.now() - t0 < 20 * MAX_LOOP_HOLD_MS) {
        await s.session.run(64, { x: f32Tensor(x, [64, 256]) });
        runs++;
      }
      expect(turned).toBe(true);
      expect(runs).toBeGreaterThan(1); // the first run after a turn never waits
      expect(performance.now() - t0).toBeGreaterThanOrEqual(MAX_LOOP_HOLD_MS);
    } finally {
      await s.session.release();
    }
  });
});

describe("the head's statistics from a second graph", () => {
  // Grok-1's vocabulary (reductions long enough to be split over threads; a head too large for a
  // one-thread session), and a small one (a head with a one-thread session for runs of <= 4 rows)
  const headOf = (V: number, dtype: string): { cfg: ModelConfig; w: () => HeadWeights } => {
    const D = 64;
    const cfg: ModelConfig = { ...presetConfig("grok-1-tiny"), dModel: D, vocabSize: V };
    const unembed = new Float32Array(V * D).map((_, i) => Math.sin(i * 0.0137) * (1 + (i % 5)));
    const outputNorm = new Float32Array(D).map((_, i) => 0.5 + (i % 3) * 0.25);
    const blocks = dtype === "q8_0" ? quantizeQ8_0(unembed) : undefined;
    return { cfg, w: () => ({ outputNorm, unembed: blocks ? { kind: "q8_0", out: V, in: D, blocks } : { kind: "f32", out: V, in: D, data: unembed } }) };
  };
  const cases: [number, string, ComputeOptions][] = [
    [131072, "f32", { threads: 1 }],
    [131072, "f32", { threads: 2 }],
    [131072, "q8_0", { threads: 1 }],
    [131072, "q8_0", { threads: 2 }],
    [131072, "q8_0", { threads: 2, exactQ8: true }],
    [2048, "f32", { threads: 2 }],
    [2048, "q8_0", { threads: 2 }],
  ];
  for (const [V, dtype, opts] of cases)
    it(`V ${V} ${dtype} ${JSON.stringify(opts)}: logits, max, min and lse equal to the fused head graph's (1, 3 and ${STATS_ROWS + 3} rows)`, async () => {
      const { cfg, w } = headOf(V, dtype);
      const D = cfg.dModel;
      const fusedGraph = buildHeadGraph(cfg, w(), linearOptions(opts));
      const fused = await createSession(fusedGraph.model, { ...opts, syncRuns: false }, fusedGraph.external, "head");
      const fusedFeeds = Object.fromEntries(fusedGraph.weights.map((x) => [x.name, new ort.Tensor("float32", x.data, [...x.dims])]));
      const head = await HeadBlock.create(cfg, w(), opts);
      try {
        for (const R of [1, 3, STATS_ROWS + 3]) {
          const x = new Float32Array(R * D).map((_, i) => Math.sin(i * 0.37 + R) * (1 + (i % 7)));
          const want = await fused.run({ x: f32Tensor(x, [R, D]), ...fusedFeeds });
          const got = await head.runWithStats(x);
          expect(got.logits.length).toBe(R * V);
          expect(bytes(got.logits).equals(bytes(want.logits!.data as Float32Array))).toBe(true);
          expect(bytes(await head.run(x)).equals(bytes(got.logits))).toBe(true);
          for (const k of ["max", "min", "lse"] as const) expect([k, ...got[k]]).toEqual([k, ...(want[k]!.data as Float32Array)]);
        }
      } finally {
        await fused.release();
        await head.close();
      }
    });
});

describe("engine on synchronous runs", () => {
  const cfg = presetConfig("grok-1-tiny");
  const dirs: Record<string, string> = {};
  beforeAll(() => {
    for (const dtype of ["f32", "q8_0"] as const) {
      dirs[dtype] = join(root, dtype);
      generateModel({ config: cfg, outDir: dirs[dtype]!, format: "gguf", dtype, seed: 11 });
    }
  });

  const cases: [string, ComputeOptions][] = [
    ["f32", { threads: 1 }],
    ["f32", { threads: 2 }],
    ["q8_0", { threads: 1, exactQ8: true }],
    ["q8_0", { threads: 2, exactQ8: true }],
    ["q8_0", { threads: 1 }],
  ];
  for (const [dtype, opts] of cases)
    it(`${dtype} ${JSON.stringify(opts)}: greedy and seeded tokens, logprobs and logits equal to the public-API engine's`, async () => {
      const m = openModel(dirs[dtype]!);
      const before = await Engine.create(m.config, m.weights, { ...opts, syncRuns: false });
      const after = await Engine.create(m.config, m.weights, opts);
      try {
        // two sequences: greedy and seeded temperature sampling (reads max, min and lse), prefill then decode
        const sampling = [undefined, { temperature: 0.8, topP: 0.9, seed: 7, topLogprobs: 3 }];
        const run = async (e: Engine) => {
          const out: unknown[] = [];
          const logits: Float32Array[] = [];
          let items = sampling.map((s, b) => ({ seq: b + 1, pos: 0, tokens: [3 + b, 17, 250, 9, 1000 + b], prompt: true, wantLogits: true, ...(s ? { sampling: s } : {}) }));
          for (let step = 0; step < 6; step++) {
            const r = await e.step(stepRows(items));
            out.push(r.sampled);
            logits.push(r.logits!.values);
            items = items.map((it) => ({ seq: it.seq, pos: it.pos + it.tokens.length, tokens: [r.sampled!.find((s) => s.seq === it.seq)!.token], prompt: false, wantLogits: true }));
          }
          e.core.release([1, 2]);
          // logits only (no sampling, no statistics): every position of a fresh sequence
          const seq = e.newSequence();
          logits.push(await e.forward([{ seq, tokens: [5, 6, 7, 8] }], { allPositions: true }));
          e.release(seq);
          return { out, logits };
        };
        const want = await run(before);
        const got = await run(after);
        expect(got.out).toEqual(want.out);
        expect(got.logits.length).toBe(want.logits.length);
        got.logits.forEach((l, i) => expect(bytes(l).equals(bytes(want.logits[i]!))).toBe(true));
      } finally {
        await before.close();
        await after.close();
        m.close();
      }
    });
});
