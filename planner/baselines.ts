/**
 * Baselines for `moe plan --compare`, judged by the same cost model as the
 * planner: a uniform split (equal layers per stage host, equal experts per
 * expert host) and a memory-proportional split (layers, with all their
 * experts, in proportion to host memory: what llama.cpp RPC and exo do).
 */
import type { ModelConfig } from "../model/index.js";
import type { ClusterSpec } from "./cluster.js";
import { modelCosts } from "./cost.js";
import { routingShares } from "./load.js";
import { resolveCostOptions, resolveWorkload, type PlanOptions } from "./options.js";
import { makePlan } from "./plan.js";
import { evaluatePlacement, type Placement } from "./predict.js";
import type { PlanJson } from "./types.js";

/** One row of the comparison. */
export interface CompareRow {
  readonly name: "planner" | "uniform" | "memory-proportional";
  readonly description: string;
  readonly fits: boolean;
  /** Hosts whose memory the split overfills. */
  readonly overfull: readonly string[];
  /** One sequence, seconds per token. */
  readonly decodeSecondsPerToken: number;
  readonly decodeTokensPerSecond: number;
  readonly decodeTokensPerSecondAggregate: number;
  readonly ttftSeconds: number;
  readonly kvCapacityTokens: number;
}

/** Split `total` into `weights`-proportional integers (largest remainder, ties to the lower index). */
export function proportional(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, w) => a + w, 0);
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = [...weights.keys()].sort((a, b) => exact[b]! - out[b]! - (exact[a]! - out[a]!) || a - b);
  for (const i of order) if (left-- > 0) out[i] = out[i]! + 1;
  return out;
}

function contiguous(hosts: readonly number[], counts: readonly number[]): Placement["stages"] {
  let at = 0;
  const out: { host: number; first: number; end: number }[] = [];
  hosts.forEach((h, k) => {
    if (counts[k]! > 0) out.push({ host: h, first: at, end: (at += counts[k]!) });
  });
  return out;
}

/** Equal layers over the stage hosts, experts dealt round-robin over the expert hosts. */
export function uniformPlacement(cfg: ModelConfig, cluster: ClusterSpec): Placement {
  const stageIdx = cluster.hosts.flatMap((h, i) => (h.roles.includes("stage") ? [i] : [])).slice(0, cfg.nLayers);
  const expertIdx = cluster.hosts.flatMap((h, i) => (h.roles.includes("expert") ? [i] : []));
  const stages = contiguous(stageIdx, proportional(cfg.nLayers, stageIdx.map(() => 1)));
  const experts = [];
  for (let l = 0; l < cfg.nLayers; l++)
    for (let e = 0; e < cfg.nExperts; e++) experts.push({ layer: l, expert: e, hosts: [expertIdx[(l * cfg.nExperts + e) % expertIdx.length]!], weights: [1] });
  return { stages, experts, routers: stages.map((s) => s.host), gateway: stages[0]?.host ?? null };
}

/** Layers ∝ memory over every stage host, each layer's experts on its own stage host (pipeline only). */
export function memoryProportionalPlacement(cfg: ModelConfig, cluster: ClusterSpec): Placement {
  const idx = cluster.hosts.flatMap((h, i) => (h.roles.includes("stage") ? [i] : []));
  const stages = contiguous(idx, proportional(cfg.nLayers, idx.map((i) => cluster.hosts[i]!.memoryBytes)));
  const experts = [];
  for (const s of stages) for (let l = s.first; l < s.end; l++) for (let e = 0; e < cfg.nExperts; e++) experts.push({ layer: l, expert: e, hosts: [s.host], weights: [1] });
  return { stages, experts, routers: stages.map((s) => s.host), gateway: stages[0]?.host ?? null };
}

/** The planner's plan and both baselines, on the same workload and cost model. */
export function comparePlans(cfg: ModelConfig, cluster: ClusterSpec, o: PlanOptions): { plan: PlanJson; rows: CompareRow[] } {
  const plan = makePlan(cfg, cluster, { ...o, usePlacement: false });
  const workload = resolveWorkload(cfg, o);
  const opts = resolveCostOptions(cluster, o);
  const mc = modelCosts(cfg, o.dtype, workload, opts);
  const shares = routingShares(cfg, o.expertLoad);
  const row = (name: CompareRow["name"], description: string, p: Placement): CompareRow => {
    const ev = evaluatePlacement(mc, cluster.hosts, p, workload, shares, opts);
    return {
      name,
      description,
      fits: ev.fits,
      overfull: ev.memory.flatMap((m, i) => (m.freeBytes < 0 ? [cluster.hosts[i]!.name] : [])),
      decodeSecondsPerToken: ev.decodeSecondsPerToken,
      decodeTokensPerSecond: ev.decodeTokensPerSecond,
      decodeTokensPerSecondAggregate: ev.decodeTokensPerSecondAggregate,
      ttftSeconds: ev.ttftSeconds,
      kvCapacityTokens: ev.fits ? ev.kvCapacityTokens : 0,
    };
  };
  const rows: CompareRow[] = [
    {
      name: "planner",
      description: "DP layer partition + speed-weighted expert placement",
      fits: plan.fits,
      overfull: [],
      decodeSecondsPerToken: plan.predicted.decodeSecondsPerToken,
      decodeTokensPerSecond: plan.predicted.decodeTokensPerSecond,
      decodeTokensPerSecondAggregate: plan.predicted.decodeTokensPerSecondAggregate,
      ttftSeconds: plan.predicted.ttftSeconds,
      kvCapacityTokens: plan.predicted.kvCapacityTokens,
    },
    row("uniform", "equal layers per stage host, equal experts per expert host", uniformPlacement(cfg, cluster)),
    row("memory-proportional", "layers and their experts in proportion to memory (llama.cpp RPC, exo)", memoryProportionalPlacement(cfg, cluster)),
  ];
  return { plan, rows };
}
