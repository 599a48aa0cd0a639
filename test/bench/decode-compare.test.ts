/**
 * compareDecode (moe bench cluster's decode rows): both backends get the
 * untimed warm-up passes before any timed run, every row is repeated and its
 * median repetition reported, single and cluster interleaved; real engines on
 * the tiny model (both "backends" are single-process engines here: this
 * checks the bookkeeping, not the cluster).
 */
import { availableParallelism } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InStepMoeBackend, compareDecode } from "../../bench/index.js";
import { ensureTinyModel } from "../../factory/index.js";
import { Engine, openModel, type LoadedModel } from "../../model/index.js";
import { LocalBackend, type StepBackend, type StepItem } from "../../stages/index.js";

/** Records every step's batch size and sequence ids, in order. */
class Recording implements StepBackend {
  readonly maxInFlight = 4;
  readonly steps: { rows: number; seqs: number[]; prompt: boolean }[] = [];
  constructor(private readonly inner: StepBackend) {}
  step(items: readonly StepItem[], o?: { deadline?: number }) {
    this.steps.push({ rows: items.length, seqs: items.map((i) => i.seq), prompt: items.every((i) => i.pos === 0) });
    return this.inner.step(items, o);
  }
  release(seqs: readonly number[]) {
    return this.inner.release(seqs);
  }
  close() {
    return this.inner.close();
  }
}

let m: LoadedModel;
let a: LocalBackend;
let b: LocalBackend;
let timed: InStepMoeBackend;
beforeAll(async () => {
  m = openModel(ensureTinyModel());
  a = new LocalBackend(await Engine.create(m.config, m.weights));
  b = new LocalBackend(await Engine.create(m.config, m.weights));
  timed = new InStepMoeBackend(await Engine.create(m.config, m.weights));
});
afterAll(async () => {
  await a.close();
  await b.close();
  await timed.close();
  m.close();
});

describe("compareDecode", () => {
  it("warms both backends, then reports the median of the repetitions of every row, cluster ÷ single of the medians", async () => {
    const single = new Recording(a);
    const cluster = new Recording(b);
    const warmed: number[] = [];
    // after every repetition of a concurrency: how many steps each backend had run by then
    const after: [number, number][] = [];
    const rows = await compareDecode({
      single,
      cluster,
      cfg: m.config,
      processes: () => [],
      steps: 2,
      rounds: 1,
      reps: 3,
      plan: new Map([
        [1, [1]],
        [4, [1, 2]],
      ]),
      onWarm: async () => void warmed.push(single.steps.length, cluster.steps.length),
      afterRepetition: async () => void after.push([single.steps.length, cluster.steps.length]),
    });
    // 3 repetitions × 2 concurrencies, each after that repetition's single and cluster runs (6 steps a run and micro-batch: 1 + 2 at concurrency 4)
    expect(after).toHaveLength(6);
    expect(after.slice(0, 3)).toEqual([1, 2, 3].map((k) => [6 + 6 * k, 6 + 6 * k]));
    expect(after.slice(3)).toEqual([1, 2, 3].map((k) => [24 + 6 * k, 24 + 18 * k]));
    // one warm-up pass each (prompt + 3 warm-up steps + 2 timed, at concurrency 16), before any timed run
    expect(warmed).toEqual([6, 6]);
    expect(single.steps.slice(0, 6).every((s) => s.rows === 16)).toBe(true);
    expect(rows.map((r) => [r.concurrency, r.backend, r.microBatches])).toEqual([
      [1, "single", 1],
      [1, "cluster", 1],
      [4, "single", 1],
      [4, "cluster", 1],
      [4, "cluster", 2],
    ]);
    for (const r of rows) {
      expect(r.repetitions).toHaveLength(3);
      expect(r.tokensPerSecond).toBe([...r.repetitions!].sort((x, y) => x - y)[1]);
      if (r.backend === "cluster") {
        const s = rows.find((x) => x.backend === "single" && x.concurrency === r.concurrency)!;
        expect(r.clusterOverSingle).toBeCloseTo(r.tokensPerSecond / s.tokensPerSecond, 12);
      } else expect(r.clusterOverSingle).toBeNull();
      expect(r.cpuMsPerToken?.bench).toBeGreaterThanOrEqual(0);
      // /proc/stat over the row's runs: the machine's busy cores, of which this process's (the measured ones)
      expect(r.machineCpu!.busyCores).toBeGreaterThanOrEqual(0);
      expect(r.machineCpu!.ownCores).toBeGreaterThanOrEqual(0);
      expect(r.machineCpu!.busyCores).toBeLessThanOrEqual(availableParallelism() + 0.5);
    }
    // two micro-batches of 2 step at once on the "cluster": batches of 2 rows
    expect(cluster.steps.some((s) => s.rows === 2)).toBe(true);
    // every run starts fresh sequences: no sequence id is started twice on a backend
    for (const rec of [single, cluster]) {
      const started = rec.steps.filter((s) => s.prompt).flatMap((s) => s.seqs);
      expect(new Set(started).size).toBe(started.length);
    }
  }, 120_000);

  it("with an in-step MoE timer, each single-process row records its MoE per layer, a share of its step; the timed engine generates what LocalBackend does", async () => {
    const rows = await compareDecode({
      single: timed,
      inStepMoe: timed,
      cluster: b,
      cfg: m.config,
      processes: () => [],
      steps: 3,
      rounds: 0,
      reps: 1,
      plan: new Map([
        [1, [1]],
        [4, [1]],
      ]),
    });
    for (const r of rows) {
      if (r.backend === "cluster") {
        expect(r.moeMsPerLayer).toBeUndefined();
        continue;
      }
      // the MoE of every layer is part of the step, not all of it (attention, norms and the head are the rest)
      expect(r.moeMsPerLayer).toBeGreaterThan(0);
      expect(m.config.nLayers * r.moeMsPerLayer!).toBeLessThan(r.msPerToken);
    }
    // only decode steps count: a prefill step's MoE (16 rows a sequence) is left out
    timed.reset();
    const greedy = { temperature: 0, topP: 1 };
    const prompt = [m.config.bosId, 300, 301, 302];
    await timed.step([{ seq: 9_000_001, pos: 0, tokens: prompt, sampling: greedy }]);
    expect(() => timed.take()).toThrow(/no decode step/);
    await timed.release([9_000_001]);
    // same core, same executor: token for token what LocalBackend generates
    const gen = async (be: InStepMoeBackend | LocalBackend, seq: number) => {
      let t = (await be.step([{ seq, pos: 0, tokens: prompt, sampling: greedy }]))[0]!.token;
      const out = [t];
      for (let p = prompt.length; p < prompt.length + 5; p++) out.push((t = (await be.step([{ seq, pos: p, tokens: [t] }]))[0]!.token));
      await be.release([seq]);
      return out;
    };
    expect(await gen(timed, 9_000_002)).toEqual(await gen(a, 9_000_003));
    const t = timed.take();
    expect(t.calls).toBe(5 * m.config.nLayers);
    expect(t.msPerLayer).toBeGreaterThan(0);
  }, 120_000);
});
