import { describe, expect, it } from "vitest";
import { presetConfig } from "../../model/index.js";
import {
  expectedDistinctExperts,
  expectedLayerTime,
  makePlan,
  parseExpertLoad,
  placeExperts,
  replicaCounts,
  routingShares,
  waterfill,
} from "../../planner/index.js";
import { parseCluster } from "../clusters.js";
import { prng, randInt } from "./helpers.js";

describe("waterfill", () => {
  it("splits in proportion to speed, never above a cap, summing to the total", () => {
    expect(waterfill([1, 1, 2], [100, 100, 100], 40)).toEqual([10, 10, 20]);
    expect(waterfill([1, 1, 8], [100, 100, 15], 40)).toEqual([13, 12, 15]);
    expect(waterfill([1, 1], [3, 3], 7)).toBeNull();
    const r = prng(5);
    for (let i = 0; i < 200; i++) {
      const n = randInt(r, 1, 8);
      const speeds = Array.from({ length: n }, () => 0.1 + r() * 10);
      const caps = Array.from({ length: n }, () => randInt(r, 0, 40));
      const total = randInt(r, 0, caps.reduce((a, c) => a + c, 0));
      const q = waterfill(speeds, caps, total)!;
      expect(q.reduce((a, x) => a + x, 0)).toBe(total);
      q.forEach((x, k) => expect(x).toBeLessThanOrEqual(caps[k]!));
    }
  });
});

describe("expert placement", () => {
  it("covers every (layer, expert), never exceeds a host's slots, never puts two replicas on one host; deterministic", () => {
    const r = prng(11);
    for (let i = 0; i < 300; i++) {
      const layers = randInt(r, 1, 6);
      const experts = randInt(r, 1, 8);
      const H = randInt(r, 1, 6);
      const hosts = Array.from({ length: H }, () => ({ speed: 0.5 + r() * 4, slots: randInt(r, 0, layers * experts) }));
      const skew = r() < 0.5;
      const shares = Array.from({ length: layers }, () => {
        const raw = Array.from({ length: experts }, (_, e) => (skew && e === 0 ? 10 : 1) * (0.5 + r()));
        const s = raw.reduce((a, x) => a + x, 0);
        return raw.map((x) => x / s);
      });
      const p = { layers, experts, shares, hosts, replicasPerLayer: randInt(r, 0, 3) };
      const res = placeExperts(p);
      const capSum = hosts.reduce((a, h) => a + h.slots, 0);
      if (capSum < layers * experts) {
        expect(res.ok).toBe(false);
        continue;
      }
      expect(res.ok).toBe(true);
      if (!res.ok) continue;
      expect(res.experts.length).toBe(layers * experts);
      const used = new Array<number>(H).fill(0);
      res.experts.forEach((x, k) => {
        expect([x.layer, x.expert]).toEqual([Math.floor(k / experts), k % experts]);
        expect(x.hosts.length).toBeGreaterThan(0);
        expect(new Set(x.hosts).size).toBe(x.hosts.length);
        expect(x.weights.reduce((a, w) => a + w, 0)).toBeCloseTo(1, 12);
        for (const h of x.hosts) used[h] = used[h]! + 1;
      });
      used.forEach((u, h) => expect(u).toBeLessThanOrEqual(hosts[h]!.slots));
      expect(used).toEqual(res.slotsUsed);
      expect(JSON.stringify(placeExperts(p))).toBe(JSON.stringify(res));
    }
  });

  it("gives faster hosts proportionally more experts", () => {
    const res = placeExperts({ layers: 64, experts: 8, shares: Array.from({ length: 64 }, () => new Array(8).fill(0.25)), hosts: [{ speed: 3, slots: 512 }, { speed: 1, slots: 512 }], replicasPerLayer: 0 });
    expect(res.ok && res.slotsUsed).toEqual([384, 128]);
  });

  it("replicates a hot expert, on the fast hosts, splitting its tokens by host speed (EPLB weighted by speed)", () => {
    const speeds = [4, 1, 4, 1];
    const shares = Array.from({ length: 4 }, () => [0.9, ...new Array(7).fill(1.1 / 7)]);
    expect(replicaCounts(shares[0]!, speeds, 2, 4)).toEqual([2, 1, 1, 1, 1, 1, 1, 1]);
    const res = placeExperts({ layers: 4, experts: 8, shares, hosts: speeds.map((speed) => ({ speed, slots: 40 })), replicasPerLayer: 2 });
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.replicas).toBe(4);
    for (const x of res.experts.filter((x) => x.expert === 0)) {
      expect(x.hosts).toEqual([0, 2]);
      expect(x.weights).toEqual([0.5, 0.5]);
    }
    for (const x of res.experts.filter((x) => x.expert !== 0)) expect(x.hosts.length).toBe(1);
  });
});

describe("expert sparsity", () => {
  it("expected distinct experts touched at batch B", () => {
    const uniform = new Array(8).fill(0.25);
    expect(expectedDistinctExperts(uniform, 1)).toBeCloseTo(2, 12);
    expect(expectedDistinctExperts(uniform, 4)).toBeCloseTo(8 * (1 - 0.75 ** 4), 12);
    expect(expectedDistinctExperts(uniform, 1000)).toBeCloseTo(8, 9);
  });
  it("expected layer time is E[max over hosts]", () => {
    const one = (touch: number, busy: number, network = 0) => ({ replicas: [{ touch, busy, memory: busy, compute: 0 }], network });
    expect(expectedLayerTime([one(0.25, 1)])).toBeCloseTo(0.25, 12);
    expect(expectedLayerTime([one(1, 1), one(1, 3)])).toBeCloseTo(3, 12);
    // two independent hosts touched with p = 0.5: E[max] = 0.25·3 + 0.25·3 + 0.25·1 = 1.75
    expect(expectedLayerTime([one(0.5, 1), one(0.5, 3)])).toBeCloseTo(1.75, 12);
    expect(expectedLayerTime([one(1, 1, 0.5)])).toBeCloseTo(1.5, 12);
    expect(expectedLayerTime([one(1, 1, 0.5)], false)).toBeCloseTo(1, 12);
  });
});

describe("--expert-load in a plan", () => {
  const tiny = presetConfig("grok-1-tiny");
  const cluster = parseCluster({
    hosts: [
      { name: "stage", device: "cpu-local", roles: ["stage", "router", "gateway"] },
      // 25 MB each holds 12 f32 tiny experts: the fast pair alone cannot hold all 32
      { name: "fast0", device: "cpu-local", roles: ["expert"], memory_bandwidth: "40GB/s", memory: "25MB", reserve: 0 },
      { name: "slow0", device: "cpu-local", roles: ["expert"], memory_bandwidth: "10GB/s", memory: "25MB", reserve: 0 },
      { name: "fast1", device: "cpu-local", roles: ["expert"], memory_bandwidth: "40GB/s", memory: "25MB", reserve: 0 },
      { name: "slow1", device: "cpu-local", roles: ["expert"], memory_bandwidth: "10GB/s", memory: "25MB", reserve: 0 },
    ],
  });
  const counts = Array.from({ length: tiny.nLayers }, () => [9000, 100, 100, 100, 100, 200, 200, 200]);

  it("reads the load file forms and turns counts into shares", () => {
    expect(parseExpertLoad({ counts }, tiny)).toEqual(counts);
    const sparse = parseExpertLoad({ experts: [{ layer: 1, expert: 3, tokens: 5 }] }, tiny);
    expect(sparse[1]![3]).toBe(5);
    const shares = routingShares(tiny, counts);
    shares.forEach((row) => expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(2, 12));
    expect(shares[0]![0]).toBeLessThanOrEqual(1);
    expect(() => parseExpertLoad([[1, 2]], tiny)).toThrow(/layers of counts but grok-1-tiny has 4/);
  });

  it("replicates the hot expert of every layer on the fast hosts, weighted by speed", () => {
    const plain = makePlan(tiny, cluster, { dtype: "f32" });
    expect(plain.experts.every((x) => x.hosts.length === 1)).toBe(true);
    const plan = makePlan(tiny, cluster, { dtype: "f32", expertLoad: counts });
    expect(plan.fits).toBe(true);
    for (const x of plan.experts.filter((x) => x.expert === 0)) {
      expect(x.hosts.length).toBeGreaterThanOrEqual(2);
      expect(x.hosts.every((h) => h.startsWith("fast"))).toBe(true);
      expect(x.weights.reduce((a, w) => a + w, 0)).toBeCloseTo(1, 5);
    }
    // fast hosts hold more of the rest as well
    const slots = new Map(plan.hosts.map((h) => [h.name, h.expertSlots]));
    expect(slots.get("fast0")!).toBeGreaterThan(slots.get("slow0")!);
    expect(JSON.stringify(makePlan(tiny, cluster, { dtype: "f32", expertLoad: counts }))).toBe(JSON.stringify(plan));
  });

  it("splits a replica pair by speed when a fast and a slow host hold it", () => {
    const mixedSpeeds = placeExperts({ layers: 1, experts: 2, shares: [[1.8, 0.2]], hosts: [{ speed: 3, slots: 1 }, { speed: 1, slots: 2 }], replicasPerLayer: 1 });
    expect(mixedSpeeds.ok).toBe(true);
    if (!mixedSpeeds.ok) return;
    const hot = mixedSpeeds.experts[0]!;
    expect(hot.hosts).toEqual([0, 1]);
    expect(hot.weights[0]! / hot.weights[1]!).toBeCloseTo(3, 12);
  });
});
