import { describe, expect, it } from "vitest";
import { admitCount, planMicroBatch, prefillReserve, type PlanInput, type ReadySeq } from "../../gateway/policy.js";

const decode = (id: number, lastStep = 0): ReadySeq => ({ id, promptLeft: 0, arrival: id, lastStep });
const prefill = (id: number, promptLeft: number): ReadySeq => ({ id, promptLeft, arrival: id, lastStep: -1 });
const plan = (p: Partial<PlanInput> & Pick<PlanInput, "ready">) =>
  planMicroBatch({ decoding: p.ready.filter((s) => s.promptLeft === 0).length, inFlight: 0, maxInFlight: 1, maxBatchTokens: 512, ...p });
const tokens = (items: ReturnType<typeof planMicroBatch>) => items.reduce((n, i) => n + i.tokens, 0);

describe("admitCount", () => {
  it("admits FIFO up to maxRunningSequences", () => {
    expect(admitCount(0, 10, 4)).toBe(4);
    expect(admitCount(3, 10, 4)).toBe(1);
    expect(admitCount(4, 10, 4)).toBe(0);
    expect(admitCount(2, 1, 4)).toBe(1);
    expect(admitCount(6, 1, 4)).toBe(0);
  });
});

describe("planMicroBatch", () => {
  it("puts every ready decode and the prompts into one batch when they fit", () => {
    const items = plan({ ready: [decode(1), decode(2), prefill(3, 20), prefill(4, 30)] });
    expect(items).toEqual([
      { id: 1, tokens: 1, kind: "decode" },
      { id: 2, tokens: 1, kind: "decode" },
      { id: 3, tokens: 20, kind: "prefill" },
      { id: 4, tokens: 30, kind: "prefill" },
    ]);
  });

  it("chunks a long prompt so decodes run every step (decode never starved)", () => {
    let left = 2000;
    const decoders = Array.from({ length: 10 }, (_, i) => decode(i + 1));
    let steps = 0;
    while (left > 0) {
      const items = plan({ ready: [...decoders, prefill(100, left)], maxBatchTokens: 256 });
      expect(items.filter((i) => i.kind === "decode")).toHaveLength(10);
      expect(tokens(items)).toBeLessThanOrEqual(256);
      const chunk = items.find((i) => i.id === 100)!;
      expect(chunk.tokens).toBe(Math.min(left, 246));
      left -= chunk.tokens;
      steps++;
    }
    expect(steps).toBe(Math.ceil(2000 / 246));
  });

  it("keeps a quarter of the budget for prefill when decodes alone would fill it (prefill never starved)", () => {
    const decoders = Array.from({ length: 600 }, (_, i) => decode(i + 1, i % 3));
    const items = plan({ ready: [...decoders, prefill(1000, 300)], maxBatchTokens: 512 });
    expect(items.find((i) => i.id === 1000)?.tokens).toBe(128);
    expect(items.filter((i) => i.kind === "decode")).toHaveLength(384);
    expect(tokens(items)).toBe(512);
    // the least recently stepped go first
    expect(items.filter((i) => i.kind === "decode").every((i) => decoders[i.id - 1]!.lastStep <= 1)).toBe(true);
  });

  it("reserves only what the prompts still need", () => {
    expect(prefillReserve(512, 0)).toBe(0);
    expect(prefillReserve(512, 5)).toBe(5);
    expect(prefillReserve(512, 5000)).toBe(128);
    const items = plan({ ready: [...Array.from({ length: 600 }, (_, i) => decode(i + 1)), prefill(1000, 3)], maxBatchTokens: 512 });
    expect(items.filter((i) => i.kind === "decode")).toHaveLength(509);
  });

  it("serves prompts oldest first", () => {
    const items = plan({ ready: [prefill(9, 300), prefill(4, 300), prefill(7, 300)], maxBatchTokens: 512 });
    expect(items).toEqual([
      { id: 4, tokens: 300, kind: "prefill" },
      { id: 7, tokens: 212, kind: "prefill" },
    ]);
  });

  it("plans nothing when the pipeline is full or nothing is ready", () => {
    expect(plan({ ready: [decode(1)], inFlight: 1, maxInFlight: 1 })).toEqual([]);
    expect(plan({ ready: [decode(1)], inFlight: 4, maxInFlight: 4 })).toEqual([]);
    expect(plan({ ready: [] })).toEqual([]);
  });

  it("spreads the decoding set over maxInFlight micro-batches so every pipeline stage has work", () => {
    const ready = Array.from({ length: 8 }, (_, i) => decode(i + 1));
    const first = plan({ ready, decoding: 8, maxInFlight: 4 });
    expect(first).toHaveLength(2);
    const rest = ready.filter((s) => !first.some((i) => i.id === s.id));
    const second = plan({ ready: rest, decoding: 8, inFlight: 1, maxInFlight: 4 });
    expect(second).toHaveLength(2);
    expect(second.some((i) => first.some((f) => f.id === i.id))).toBe(false);
  });

  it("in a simulated pipeline run: limits hold, a sequence is in one in-flight batch, a ready decode waits at most one round", () => {
    // depth-3 pipeline: each round launches micro-batches until the pipeline is full, then the oldest completes
    let rand = 12345;
    const rnd = () => (rand = (rand * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const budget = 64;
    type S = { promptLeft: number; out: number; lastStep: number; inFlight: boolean; waited: number };
    const seqs = new Map<number, S>();
    const inFlight: Array<Array<{ id: number; tokens: number }>> = [];
    let nextId = 1;
    let step = 0;
    let maxWait = 0;
    let finished = 0;
    for (let round = 0; round < 600; round++) {
      if (seqs.size < 12 && rnd() < 0.4) seqs.set(nextId++, { promptLeft: 1 + Math.floor(rnd() * 150), out: 1 + Math.floor(rnd() * 30), lastStep: -1, inFlight: false, waited: 0 });
      for (;;) {
        const ready: ReadySeq[] = [...seqs.entries()].filter(([, s]) => !s.inFlight).map(([id, s]) => ({ id, promptLeft: s.promptLeft, arrival: id, lastStep: s.lastStep }));
        const decoding = [...seqs.values()].filter((s) => s.promptLeft === 0).length;
        const items = planMicroBatch({ ready, decoding, inFlight: inFlight.length, maxInFlight: 3, maxBatchTokens: budget });
        if (items.length === 0) break;
        step++;
        expect(tokens(items)).toBeLessThanOrEqual(budget);
        for (const it of items) {
          const s = seqs.get(it.id)!;
          expect(s.inFlight).toBe(false);
          expect(it.tokens).toBe(s.promptLeft === 0 ? 1 : Math.min(it.tokens, s.promptLeft));
          s.inFlight = true;
          s.lastStep = step;
        }
        inFlight.push(items.map((i) => ({ id: i.id, tokens: i.tokens })));
      }
      for (const s of seqs.values()) if (!s.inFlight && s.promptLeft === 0) maxWait = Math.max(maxWait, ++s.waited);
      for (const it of inFlight.shift() ?? []) {
        const s = seqs.get(it.id)!;
        s.inFlight = false;
        s.waited = 0;
        if (s.promptLeft > 0) s.promptLeft -= it.tokens;
        else if (--s.out === 0) seqs.delete(it.id), finished++;
      }
    }
    expect(finished).toBeGreaterThan(50);
    expect(maxWait).toBeLessThanOrEqual(1);
  });
});
