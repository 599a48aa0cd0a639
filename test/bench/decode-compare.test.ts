/**
 * compareDecode (moe bench cluster's decode rows): both backends get the
 * untimed warm-up passes before any timed run, every row is repeated and its
 * median repetition reported, single and cluster interleaved; real engines on
 * the tiny model (both "backends" are single-process engines here: this
 * checks the bookkeeping, not the cluster).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareDecode } from "../../bench/index.js";
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
beforeAll(async () => {
  m = openModel(ensureTinyModel());
  a = new LocalBackend(await Engine.create(m.config, m.weights));
  b = new LocalBackend(await Engine.create(m.config, m.weights));
});
afterAll(async () => {
  await a.close();
  await b.close();
  m.close();
});

describe("compareDecode", () => {
  it("warms both backends, then reports the median of the repetitions of every row, cluster ÷ single of the medians", async () => {
    const single = new Recording(a);
    const cluster = new Recording(b);
    const warmed: number[] = [];
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
    });
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
    }
    // two micro-batches of 2 step at once on the "cluster": batches of 2 rows
    expect(cluster.steps.some((s) => s.rows === 2)).toBe(true);
    // every run starts fresh sequences: no sequence id is started twice on a backend
    for (const rec of [single, cluster]) {
      const started = rec.steps.filter((s) => s.prompt).flatMap((s) => s.seqs);
      expect(new Set(started).size).toBe(started.length);
    }
  }, 120_000);
});
