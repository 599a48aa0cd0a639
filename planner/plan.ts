/**
 * `makePlan`: model + cluster + workload → {@link PlanJson}. Pure and
 * deterministic: the same inputs give the same plan, byte for byte.
 */
import type { ModelConfig } from "../model/index.js";
import type { ClusterSpec, Role } from "./cluster.js";
import { modelCosts, usableBytes } from "./cost.js";
import { computeShortfall } from "./fixes.js";
import { routingShares } from "./load.js";
import { explicitPlacement, searchPlacement } from "./placement.js";
import { resolveCostOptions, resolveWorkload, type PlanOptions } from "./options.js";
import { evaluatePlacement, type Evaluation, type Placement } from "./predict.js";
import type { PlanJson, PlanHost } from "./types.js";

/** Plan without searching for fixes (what the fix search itself calls). */
export function planOnce(cfg: ModelConfig, cluster: ClusterSpec, o: PlanOptions): PlanJson {
  const workload = resolveWorkload(cfg, o);
  const opts = resolveCostOptions(cluster, o);
  const mc = modelCosts(cfg, o.dtype, workload, opts);
  const shares = routingShares(cfg, o.expertLoad);
  const replicas = o.replicasPerLayer ?? (o.expertLoad ? Math.floor(cfg.nExperts / 4) : 0);
  const hosts = cluster.hosts;
  let placement: Placement | null = null;
  let ev: Evaluation | null = null;
  let reason = "";
  const notes: string[] = [];
  const explicit = (o.usePlacement ?? true) && cluster.placement !== undefined;
  if (explicit) {
    placement = explicitPlacement(cluster.placement!, hosts, cfg.nLayers, cfg.nExperts, cluster.source);
    ev = evaluatePlacement(mc, hosts, placement, workload, shares, opts);
  } else {
    const found = searchPlacement(mc, hosts, workload, shares, replicas, opts);
    if (found.outcome.ok) {
      placement = found.outcome.placement;
      ev = found.evaluation;
      if (found.outcome.mode === "slots") notes.push("memory is tight: stages were packed to leave room for every expert (KV capacity favoured over stage balance)");
      if (found.withoutExperts.length) notes.push(`no experts on ${found.withoutExperts.join(", ")}: the faster expert hosts hold them all, and decode is faster that way`);
    } else reason = found.outcome.reason;
  }
  const fits = ev?.fits ?? false;
  if (ev && !fits) reason = `over capacity on ${ev.memory.flatMap((m, i) => (m.freeBytes < 0 ? [hosts[i]!.name] : [])).join(", ")}`;
  const base = {
    version: 1 as const,
    model: {
      name: cfg.name,
      source: o.modelSource ?? cfg.name,
      layers: cfg.nLayers,
      experts: cfg.nExperts,
      expertsPerToken: cfg.nExpertsUsed,
      dModel: cfg.dModel,
      weightBytes: mc.account.totalBytes,
      expertBytes: mc.expertBytes,
      kvBytesPerToken: mc.kvBytesPerTokenLayer * cfg.nLayers,
    },
    dtype: o.dtype,
    cluster: cluster.name ?? cluster.source,
    placement: explicit ? ("explicit" as const) : ("planner" as const),
    workload,
    notes,
    assumptions: o.calibration ? { ...opts, calibration: o.calibration } : opts,
  };
  const show = placement && (fits || explicit);
  const hostsJson: PlanHost[] = hosts.map((h, i) => {
    const stage = show ? placement!.stages.find((s) => s.host === i) : undefined;
    const roles: Role[] = [];
    if (show) {
      if (stage) roles.push("stage");
      if (ev!.expertSlots[i]! > 0) roles.push("expert");
      if (placement!.routers.includes(i)) roles.push("router");
      if (placement!.gateway === i) roles.push("gateway");
    }
    const reserve = h.memoryBytes - usableBytes(h, opts);
    const zero = { capacityBytes: h.memoryBytes, usedBytes: reserve, freeBytes: h.memoryBytes - reserve, weightsBytes: 0, kvBytes: 0, activationBytes: 0, reserveBytes: reserve };
    return {
      name: h.name,
      device: h.device ?? null,
      executionProvider: h.executionProvider,
      roles,
      layers: stage ? ([stage.first, stage.end] as const) : null,
      expertSlots: show ? ev!.expertSlots[i]! : 0,
      memory: show ? ev!.memory[i]! : zero,
      busySecondsPerToken: show ? ev!.busySecondsPerToken[i]! : 0,
      ...(h.address !== undefined ? { address: h.address } : {}),
    };
  });
  const name = (i: number) => hosts[i]!.name;
  const plan: PlanJson = {
    ...base,
    fits,
    stages: show ? placement!.stages.map((s) => ({ host: name(s.host), layers: [s.first, s.end] as const })) : [],
    routers: show ? placement!.routers.map((h, stage) => ({ stage, host: name(h) })) : [],
    gateway: show && placement!.gateway !== null ? name(placement!.gateway) : null,
    experts: show ? placement!.experts.map((x) => ({ layer: x.layer, expert: x.expert, hosts: x.hosts.map(name), weights: x.weights.map(round6) })) : [],
    hosts: hostsJson,
    predicted:
      ev && show
        ? {
            decodeTokensPerSecond: ev.decodeTokensPerSecond,
            decodeTokensPerSecondAggregate: ev.decodeTokensPerSecondAggregate,
            decodeSecondsPerToken: ev.decodeSecondsPerToken,
            stepSeconds: ev.stepSeconds,
            ttftSeconds: ev.ttftSeconds,
            kvCapacityTokens: ev.kvCapacityTokens,
            maxConcurrentSequences: ev.maxConcurrentSequences,
            microBatches: ev.microBatches,
            microBatchSize: ev.microBatchSize,
            bottleneck: fits ? ev.bottleneck : { kind: "memory", host: null, resource: "memory", reason },
            breakdown: ev.breakdown,
          }
        : {
            decodeTokensPerSecond: 0,
            decodeTokensPerSecondAggregate: 0,
            decodeSecondsPerToken: 0,
            stepSeconds: 0,
            ttftSeconds: 0,
            kvCapacityTokens: 0,
            maxConcurrentSequences: 0,
            microBatches: 0,
            microBatchSize: 0,
            bottleneck: { kind: "memory", host: null, resource: "memory", reason: `does not fit: ${reason}` },
            breakdown: { stageSeconds: 0, headSeconds: 0, expertSeconds: 0, networkSeconds: 0, softwareSeconds: 0 },
          },
    limits: fits && ev ? { maxRunningSequences: Math.max(1, ev.maxConcurrentSequences), maxQueued: 4 * Math.max(1, ev.maxConcurrentSequences) } : { maxRunningSequences: 0, maxQueued: 0 },
    shortfall: fits ? null : { missingBytes: 0, neededBytes: 0, availableBytes: 0, reason, fixes: [] },
  };
  return plan;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/**
 * Plan `cfg` on `cluster`. When it does not fit, `shortfall` says how much
 * memory is missing and lists the smallest changes that fix it.
 */
export function makePlan(cfg: ModelConfig, cluster: ClusterSpec, o: PlanOptions): PlanJson {
  const plan = planOnce(cfg, cluster, o);
  if (plan.fits) return plan;
  const shortfall = computeShortfall(cfg, cluster, o, plan, (c, k, opts) => planOnce(c, k, { ...opts, fixes: false }), o.fixes ?? true);
  return { ...plan, shortfall, predicted: { ...plan.predicted, bottleneck: { kind: "memory", host: null, resource: "memory", reason: shortfall.reason } } };
}
