import { describe, expect, it } from "vitest";
import { modelCosts, partitionLayers, partitionSetup, type PartitionProblem, type PartitionResult, type StageOption } from "../../planner/index.js";
import { prng, randInt, randomCluster, randomModel } from "./helpers.js";

interface Score {
  T: number;
  K: number;
  sum: number;
  slots: number;
}

/** Every ordered choice of distinct hosts × every composition of the layers; lexicographic objective of the mode. */
function bruteForce(p: PartitionProblem): Score | null {
  const H = p.hosts.length;
  const L = p.layers;
  let best: Score | null = null;
  const better = (a: Score, b: Score) => {
    if (a.T !== b.T) return a.T < b.T;
    if (p.mode === "kv") {
      if (a.K !== b.K) return a.K > b.K;
    } else if (a.slots !== b.slots) return a.slots > b.slots;
    return a.sum < b.sum - 1e-12 * Math.max(1, b.sum);
  };
  const order: number[] = [];
  const used = new Array<boolean>(H).fill(false);
  const tryCompositions = (k: number) => {
    const sizes: number[] = [];
    const rec = (left: number, slot: number) => {
      if (slot === k - 1) {
        sizes.push(left);
        evaluate(sizes);
        sizes.pop();
        return;
      }
      for (let n = 1; n <= left - (k - 1 - slot); n++) {
        sizes.push(n);
        rec(left - n, slot + 1);
        sizes.pop();
      }
    };
    rec(L, 0);
  };
  const evaluate = (sizes: number[]) => {
    const k = sizes.length;
    let T = 0;
    let K = Infinity;
    let sum = 0;
    let slots = 0;
    for (let s = 0; s < k; s++) {
      const role = k === 1 ? 3 : s === 0 ? 1 : s === k - 1 ? 2 : 0;
      const o: StageOption | null = p.hosts[order[s]!]!.options[role]![sizes[s]!] ?? null;
      if (!o) return;
      T = Math.max(T, o.cost);
      K = Math.min(K, o.kvTokens);
      sum += o.cost;
      slots += o.slots;
    }
    for (let h = 0; h < H; h++) if (!used[h]) slots += p.hosts[h]!.idleSlots;
    if (p.mode === "slots" && slots < p.requiredSlots) return;
    const sc = { T, K, sum, slots };
    if (!best || better(sc, best)) best = sc;
  };
  const perm = (depth: number) => {
    if (depth > 0) tryCompositions(depth);
    if (depth === Math.min(H, L)) return;
    for (let h = 0; h < H; h++) {
      if (used[h]) continue;
      used[h] = true;
      order.push(h);
      perm(depth + 1);
      order.pop();
      used[h] = false;
    }
  };
  perm(0);
  return best;
}

/** The result is a valid partition whose reported values match its options. */
function checkStructure(p: PartitionProblem, r: PartitionResult): Score {
  expect(r.stages.length).toBeGreaterThan(0);
  let at = 0;
  let T = 0;
  let K = Infinity;
  let sum = 0;
  let slots = 0;
  const seen = new Set<number>();
  r.stages.forEach((s, k) => {
    expect(s.first).toBe(at);
    expect(s.end).toBeGreaterThan(s.first);
    expect(seen.has(s.host)).toBe(false);
    seen.add(s.host);
    const expectRole = r.stages.length === 1 ? "only" : k === 0 ? "first" : k === r.stages.length - 1 ? "last" : "interior";
    expect(s.role).toBe(expectRole);
    const o = p.hosts[s.host]!.options[["interior", "first", "last", "only"].indexOf(s.role)]![s.end - s.first]!;
    expect(o).not.toBeNull();
    T = Math.max(T, o.cost);
    K = Math.min(K, o.kvTokens);
    sum += o.cost;
    slots += o.slots;
    at = s.end;
  });
  expect(at).toBe(p.layers);
  p.hosts.forEach((h, i) => {
    if (!seen.has(i)) slots += h.idleSlots;
  });
  expect(r.maxCost).toBe(T);
  expect(r.minKvTokens).toBe(K);
  expect(r.slots).toBe(slots);
  expect(r.totalCost).toBeCloseTo(sum, 12);
  return { T, K, sum, slots };
}

function compare(p: PartitionProblem) {
  const dp = partitionLayers(p);
  const bf = bruteForce(p);
  if (!bf) {
    expect(dp).toBeNull();
    return false;
  }
  expect(dp).not.toBeNull();
  const got = checkStructure(p, dp!);
  expect(got.T).toBe(bf.T);
  if (p.mode === "kv") expect(got.K).toBe(bf.K);
  else expect(got.slots).toBe(bf.slots);
  expect(Math.abs(got.sum - bf.sum)).toBeLessThanOrEqual(1e-9 * Math.max(1, bf.sum));
  return true;
}

/** Abstract instance: arbitrary (not even monotone) per-host tables, coarse values so that ties happen. */
function randomProblem(seed: number, mode: "kv" | "slots"): PartitionProblem {
  const r = prng(seed);
  const L = randInt(r, 1, 7);
  const H = randInt(r, 1, 5);
  const hosts = Array.from({ length: H }, () => {
    const perLayer = randInt(r, 1, 4);
    const options = [0, 1, 2, 3].map((role) =>
      Array.from({ length: L + 1 }, (_, n): StageOption | null => {
        if (n === 0 || (role === 3 && n !== L) || r() < 0.15) return null;
        return { cost: perLayer * n + randInt(r, 0, 3) + (role === 2 || role === 3 ? randInt(r, 0, 4) : 0), kvTokens: randInt(r, 1, 40), slots: randInt(r, 0, 6) };
      }),
    );
    return { options, idleSlots: randInt(r, 0, 8) };
  });
  return { layers: L, hosts, mode, requiredSlots: mode === "slots" ? randInt(r, 0, 12) : 0 };
}

describe("layer partition DP equals the brute-force optimum", () => {
  it("on 300 random abstract instances per mode (host order chosen too)", () => {
    let feasible = 0;
    for (let seed = 1; seed <= 300; seed++) {
      if (compare(randomProblem(seed, "kv"))) feasible++;
      if (compare(randomProblem(1000 + seed, "slots"))) feasible++;
    }
    expect(feasible).toBeGreaterThan(400);
  });

  it("on 200 feasible random small clusters costed by the real cost model", () => {
    let feasible = 0;
    let multiStage = 0;
    for (let seed = 1; feasible < 200 && seed < 2000; seed++) {
      const r = prng(seed * 7919);
      const cfg = randomModel(r);
      const mc0 = modelCosts(cfg, "f32", { context: 256, concurrency: 1, promptTokens: 64 });
      const cluster = randomCluster(r, 5, mc0.account.totalBytes * 1.2);
      const workload = { context: 256, concurrency: randInt(r, 1, 4), promptTokens: 64 };
      const mc = modelCosts(cfg, "f32", workload);
      const setup = partitionSetup(mc, cluster.hosts, workload);
      if (setup.stageIdx.length === 0) continue;
      const a = setup.kv ? compare(setup.kv) : false;
      const b = compare(setup.slots);
      if (a || b) feasible++;
      if (a && partitionLayers(setup.kv!)!.stages.length > 1) multiStage++;
    }
    expect(feasible).toBe(200);
    expect(multiStage).toBeGreaterThan(50);
  });

  it("is deterministic", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const p = randomProblem(seed, "kv");
      expect(JSON.stringify(partitionLayers(p))).toBe(JSON.stringify(partitionLayers(p)));
    }
  });

  it("returns null when nothing fits", () => {
    const none = { options: [0, 1, 2, 3].map(() => [null, null, null]), idleSlots: 0 };
    expect(partitionLayers({ layers: 2, hosts: [none, none], mode: "kv", requiredSlots: 0 })).toBeNull();
  });
});
