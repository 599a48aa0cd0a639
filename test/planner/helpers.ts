/** Test helpers for the planner: a tiny seeded PRNG and random instances. */
import { mulberry32, presetConfig, type ModelConfig } from "../../model/index.js";
import type { ClusterSpec } from "../../planner/index.js";
import { parseCluster } from "../clusters.js";

/** The project's seeded PRNG (mulberry32), uniform in [0, 1). */
export const prng = mulberry32;

/** Integer in [lo, hi]. */
export const randInt = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
export const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** A small random Grok-family model (1–7 layers). */
export function randomModel(r: () => number): ModelConfig {
  const tiny = presetConfig("grok-1-tiny");
  const nExperts = pick(r, [2, 4, 8]);
  const heads = pick(r, [4, 8]);
  return {
    ...tiny,
    name: "random",
    nLayers: randInt(r, 1, 7),
    dModel: pick(r, [64, 128, 256]),
    nHeads: heads,
    nKvHeads: pick(r, [1, 2, heads]),
    headDim: pick(r, [16, 32]),
    nExperts,
    nExpertsUsed: Math.min(nExperts, pick(r, [1, 2])),
    ffnDim: pick(r, [128, 256, 512]),
    vocabSize: pick(r, [512, 2048]),
    contextLength: 1024,
  };
}

/** A random cluster of 1–`maxHosts` CPU-like hosts with random memory, bandwidth, network and roles. */
export function randomCluster(r: () => number, maxHosts: number, memoryScale: number): ClusterSpec {
  const n = randInt(r, 1, maxHosts);
  const roleSets = [["stage", "expert", "router", "gateway"], ["stage", "router"], ["expert"], ["stage", "expert", "router"]];
  const hosts = Array.from({ length: n }, (_, i) => ({
    name: `h${i}`,
    device: "cpu-local",
    memory: Math.round(memoryScale * (0.2 + r() * 1.8)),
    reserve: 0,
    memory_bandwidth: pick(r, [5e9, 10e9, 20e9, 40e9]),
    compute: pick(r, [20e9, 50e9, 100e9]),
    network: { bandwidth: pick(r, [1e9, 5e9]), latency: pick(r, [10e-6, 50e-6]) },
    roles: i === 0 ? roleSets[0] : pick(r, roleSets),
  }));
  return parseCluster({ name: "random", hosts });
}
