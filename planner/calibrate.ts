/**
 * `moe plan --calibrate FILE`: fit the cost model's software terms to what
 * `moe bench cluster --json` measured on this machine, then check the
 * calibrated prediction against the cluster's measured decode rates.
 *
 * 1. Compute. Experts: one layer's MoE called on its own in one process
 *    (the round trips' in-process figure, for the fewest and the most rows;
 *    like an expert host's run, it follows other processes' work) is
 *    `expertComputeScale · P(R) + n(R) · sessionSeconds`, P the uncalibrated
 *    weight/FLOP time and n the expert runs. Stages: the single process's
 *    decode step at two concurrencies less the MoE timed inside those same
 *    steps (`decode[i].moeMsPerLayer` × layers) is the stages' own compute
 *    (attention, norms, embedding, head), `computeScale · P(b) + n(b) ·
 *    stageLayerSeconds` with n the session runs (layers + head). Each is two
 *    linear equations in two unknowns, solved with both terms ≥ 0
 *    ({@link fitLinear}). (The MoE called on its own mostly takes 1.1–1.9× its
 *    in-step time, cold caches: subtracting it, as before bench schema 2,
 *    left the stages too little compute, or a negative scale.)
 * 2. Messages: the planner's expected expert phase of a layer, with the
 *    bench's placement, must equal the measured dispatch + combine round trip
 *    (its mean: a decode step is a chain of them, so means add up) for the
 *    fewest and the most rows: two equations give `messageSeconds`
 *    and `messageSecondsPerByte` (Newton; when one would be negative it is 0
 *    and the other is fitted alone). Whether the router sends one dispatch
 *    per expert or per host comes from the bench's message counts.
 * 3. Pipeline messages: the bench's `seq.release` (no compute) — a request
 *    and its reply to every stage at once since protocol v2, so two
 *    messages one after the other (`sequential`; a bench file from before
 *    v2, which chained it through every stage, counts all its `messages`) —
 *    gives the software time of one pipeline message
 *    (`pipelineMessageSeconds`), less the wire and the per-byte term; the
 *    prediction charges `stages + 1` of them per step (message-cost.ts
 *    `pipelineMessages`).
 * 4. Cores: hosts at one address share the bench machine's CPUs.
 *
 * Nothing here reads the decode rates of the cluster: they are what the
 * calibrated model is checked against ({@link Calibration.check}).
 */
import type { ModelConfig } from "../model/index.js";
import type { BenchFile } from "./bench-file.js";
import type { ClusterSpec, HostSpec } from "./cluster.js";
import { modelCosts, type ModelCosts } from "./cost.js";
import type { CostOptions } from "./cost-options.js";
import { CalibrationError } from "./errors.js";
import { fitLinear, fitMessages } from "./fit.js";
import { layerPhase, replicasByLayer } from "./layer.js";
import { routingShares } from "./load.js";
import { resolveCostOptions, resolveWorkload, type PlanOptions } from "./options.js";
import { planOnce } from "./plan.js";
import { explicitPlacement, searchPlacement } from "./placement.js";
import { evaluatePlacement, type Placement } from "./predict.js";

/** The fitted cost options. */
export type CalibratedCost = Pick<CostOptions, "computeScale" | "stageLayerSeconds" | "expertComputeScale" | "sessionSeconds" | "messageSeconds" | "messageSecondsPerByte" | "pipelineMessageSeconds" | "dispatchPer" | "machineCores">;

/** Calibrated prediction against the bench's measurement at one concurrency. */
export interface CalibrationCheck {
  readonly concurrency: number;
  /** Micro-batches of the prediction (and of the measurement compared with it, when the bench ran that many). */
  readonly microBatches: number;
  readonly predictedTokensPerSecond: number;
  /** Measured with the same number of micro-batches (the fastest row when the bench did not run that many). */
  readonly measuredTokensPerSecond: number;
  /** The fastest measured row at this concurrency, whatever its micro-batches. */
  readonly bestMeasuredTokensPerSecond: number;
  /** predicted ÷ measured − 1. */
  readonly error: number;
}

/** What `plan.json`'s `assumptions.calibration` records. */
export interface Calibration {
  /** The bench file. */
  readonly source: string;
  readonly benchCreatedAt: string;
  /** The cluster the bench ran. */
  readonly benchCluster: string;
  /** 1-minute load average when the bench ended (other work on the machine skews every figure). */
  readonly loadAverage: number;
  readonly cpus: number;
  /** KV length the bench decoded at (prompt + warm-up + timed steps), tokens; the check uses it. */
  readonly context: number;
  readonly fitted: CalibratedCost;
  /** What the fit used: single-process seconds per step and round-trip seconds per layer call. */
  readonly measured: {
    readonly singleStepSeconds: readonly { readonly concurrency: number; readonly seconds: number }[];
    /** The single process's MoE inside those steps, all layers (the bench's `moeMsPerLayer` × layers), seconds per step. */
    readonly inStepMoeSeconds: readonly { readonly concurrency: number; readonly seconds: number }[];
    /** What the stage compute is fitted to: step − in-step MoE (≥ 0), seconds per step. */
    readonly stageSeconds: readonly { readonly concurrency: number; readonly seconds: number }[];
    /** The in-process MoE of one layer (all experts in one process, no messages), seconds. */
    readonly inProcessMoeSeconds: readonly { readonly rows: number; readonly seconds: number }[];
    readonly roundTripSeconds: readonly { readonly rows: number; readonly seconds: number }[];
    /** One pipeline message (the seq.release round trip ÷ its messages one after the other), seconds. */
    readonly pipelineMessageSeconds: number;
  };
  /** The calibrated prediction for the bench's cluster against its measured decode rates. */
  readonly check: readonly CalibrationCheck[];
}

/** Fit the software terms to `bench` (measured on `benchCluster`); `o` is the plan's options (dtype, expert load). */
export function calibrate(cfg: ModelConfig, benchCluster: ClusterSpec, bench: BenchFile, o: PlanOptions): Calibration {
  const bm = bench.model;
  if (bm.layers !== cfg.nLayers || bm.dModel !== cfg.dModel || bm.experts !== cfg.nExperts || bm.expertsPerToken !== cfg.nExpertsUsed)
    throw new CalibrationError(
      `${bench.source}: model: the bench ran ${bm.name} (${bm.layers} layers, d_model ${bm.dModel}, ${bm.experts} experts, top-${bm.expertsPerToken}) but the plan is for ${cfg.name} (${cfg.nLayers}, ${cfg.dModel}, ${cfg.nExperts}, top-${cfg.nExpertsUsed})`,
      { file: bench.source, field: "model", fix: "calibrate with a bench of the same model" },
    );
  const s = bench.settings;
  const context = Math.min(cfg.contextLength, s.promptTokens + s.warmupSteps + s.decodeSteps);
  const po: PlanOptions = { ...o, context, promptTokens: Math.min(s.promptTokens, context), usePlacement: true, fixes: false };
  const workload = resolveWorkload(cfg, po);
  const base = resolveCostOptions(benchCluster, { ...po, cost: { ...o.cost, machineCores: 0 } });
  const mc = modelCosts(cfg, o.dtype, workload, base);
  const shares = routingShares(cfg, o.expertLoad);

  // 1. compute: experts from the in-process MoE of the round trips, stages from the single process's steps
  const singles = bench.decode.filter((d) => d.backend === "single").sort((a, b) => a.concurrency - b.concurrency);
  const [lo, hi] = [singles[0]!, singles[singles.length - 1]!];
  const rts = [...bench.roundTrip].sort((a, b) => a.rows - b.rows);
  const [r1, r2] = [rts[0]!, rts[rts.length - 1]!];
  const host = stageHost(benchCluster);
  const whole: Placement = {
    stages: [{ host: 0, first: 0, end: cfg.nLayers }],
    experts: Array.from({ length: cfg.nLayers * cfg.nExperts }, (_, i) => ({ layer: Math.floor(i / cfg.nExperts), expert: i % cfg.nExperts, hosts: [0], weights: [1] })),
    routers: [0],
    gateway: null,
  };
  const together = replicasByLayer(cfg.nLayers, whole.experts, shares);
  // in-process MoE of a layer (experts one after another, no messages) = scale · P(R) + n(R) · σ
  const moe = (rows: number, scale: number, session: number) => {
    const x = { ...base, expertComputeScale: scale, sessionSeconds: session };
    return together.reduce((a, reps) => a + layerPhase(mc, [host], 0, reps, rows, x).expertSeconds, 0) / cfg.nLayers;
  };
  const expertRows = [r1, r2].map((r) => [moe(r.rows, 1, 0), moe(r.rows, 0, 1e-3) / 1e-3, r.inProcessMs / 1000] as const);
  // (a tiny expert is read-bound at any row count: P and n are then proportional and the fit keeps σ = 0)
  const [expertComputeScale, sessionSeconds] = fitLinear(expertRows);
  // the stages' own compute (attention, norms, embedding, head) = a single-process step less its in-step MoE:
  // stage(b) = c0(b) + scale · P(b) + n(b) · σ_layer, the experts left out of the model (scale and session 0)
  const stageOnly = { ...base, expertComputeScale: 0, sessionSeconds: 0 };
  const single = (b: number, scale: number, layer: number) =>
    evaluatePlacement(mc, [host], whole, { ...workload, concurrency: b }, shares, { ...stageOnly, computeScale: scale, stageLayerSeconds: layer }).stepSeconds;
  const measured = (d: { concurrency: number; tokensPerSecond: number }) => d.concurrency / d.tokensPerSecond;
  const inStepMoe = (d: { moeMsPerLayer?: number | undefined }) => (cfg.nLayers * d.moeMsPerLayer!) / 1000;
  const stageSeconds = (d: SingleRow) => Math.max(0, measured(d) - inStepMoe(d));
  const [computeScale, stageLayerSeconds] = fitLinear(
    [lo, hi].map((d) => {
      const c0 = single(d.concurrency, 0, 0);
      return [single(d.concurrency, 1, 0) - c0, (single(d.concurrency, 0, 1e-3) - c0) / 1e-3, stageSeconds(d) - c0] as const;
    }),
  );

  // 2. message software from the round trips, with the bench's placement
  const dispatchPer: CostOptions["dispatchPer"] = bench.roundTrip.every((r) => r.messages <= r.hosts + 1e-9) ? "host" : "expert";
  // means, not medians: a decode step is a chain of such calls, and its time is their sum
  const targets = [r1, r2].map((r) => ({ rows: r.rows, seconds: r.clusterMeanMs / 1000 }));
  const calibrated = { ...base, computeScale, stageLayerSeconds, expertComputeScale, sessionSeconds, dispatchPer };
  const layerSeconds = moeLayer(cfg, mc, benchCluster, workload, shares, calibrated, o);
  const [messageSeconds, messageSecondsPerByte] = fitMessages((mu, beta, rows) => layerSeconds(rows, mu, beta), targets);

  // 3. pipeline messages: a seq.release round trip is `sequential` small messages one after the other
  const small = base.messageOverheadBytes;
  const perMessage = bench.pipeline.meanMs / 1000 / (bench.pipeline.sequential ?? bench.pipeline.messages);
  const pipelineMessageSeconds = Math.max(0, perMessage - (host.network.latency + small / host.network.bandwidth) - small * messageSecondsPerByte);

  const fitted: CalibratedCost = { computeScale, stageLayerSeconds, expertComputeScale, sessionSeconds, messageSeconds, messageSecondsPerByte, pipelineMessageSeconds, dispatchPer, machineCores: bench.machine.cpus };
  const check = [...new Set(bench.decode.filter((d) => d.backend === "cluster").map((d) => d.concurrency))].sort((a, b) => a - b).map((c) => {
    const plan = planOnce(cfg, benchCluster, { ...po, concurrency: c, cost: { ...o.cost, ...fitted } });
    const rows = bench.decode.filter((d) => d.backend === "cluster" && d.concurrency === c);
    const best = rows.reduce((a, b) => (b.tokensPerSecond > a.tokensPerSecond ? b : a));
    const m = rows.find((d) => d.microBatches === plan.predicted.microBatches) ?? best;
    const predicted = plan.predicted.decodeTokensPerSecondAggregate;
    return {
      concurrency: c,
      microBatches: plan.predicted.microBatches,
      predictedTokensPerSecond: predicted,
      measuredTokensPerSecond: m.tokensPerSecond,
      bestMeasuredTokensPerSecond: best.tokensPerSecond,
      error: predicted / m.tokensPerSecond - 1,
    };
  });
  return {
    source: bench.source,
    benchCreatedAt: bench.createdAt,
    benchCluster: bench.cluster.file,
    loadAverage: bench.machine.loadAverage[0]!,
    cpus: bench.machine.cpus,
    context,
    fitted,
    measured: {
      singleStepSeconds: [lo, hi].map((d) => ({ concurrency: d.concurrency, seconds: measured(d) })),
      inStepMoeSeconds: [lo, hi].map((d) => ({ concurrency: d.concurrency, seconds: inStepMoe(d) })),
      stageSeconds: [lo, hi].map((d) => ({ concurrency: d.concurrency, seconds: stageSeconds(d) })),
      inProcessMoeSeconds: [r1, r2].map((r) => ({ rows: r.rows, seconds: r.inProcessMs / 1000 })),
      roundTripSeconds: targets,
      pipelineMessageSeconds: perMessage,
    },
    check,
  };
}

type SingleRow = BenchFile["decode"][number];

/** The host the single process is taken to run on: the first stage's (it has the stage role), else the first host. */
function stageHost(c: ClusterSpec): HostSpec {
  const name = c.placement?.stages[0]?.host;
  return c.hosts.find((h) => h.name === name) ?? c.hosts.find((h) => h.roles.includes("stage")) ?? c.hosts[0]!;
}

/** Mean expected expert phase over the layers, seconds, for `rows` rows and the given message costs. */
function moeLayer(cfg: ModelConfig, mc: ModelCosts, cluster: ClusterSpec, workload: ReturnType<typeof resolveWorkload>, shares: number[][], opts: CostOptions, o: PlanOptions) {
  let placement: Placement;
  if (cluster.placement) placement = explicitPlacement(cluster.placement, cluster.hosts, cfg.nLayers, cfg.nExperts, cluster.source);
  else {
    const found = searchPlacement(mc, cluster.hosts, workload, shares, o.replicasPerLayer ?? 0, opts);
    if (!found.outcome.ok) throw new CalibrationError(`${cluster.source}: the bench's cluster has no placement to calibrate with: ${found.outcome.reason}`, { file: cluster.source });
    placement = found.outcome.placement;
  }
  const perLayer = replicasByLayer(cfg.nLayers, placement.experts, shares);
  const stageOf = (l: number) => placement.stages.find((s) => l >= s.first && l < s.end)!.host;
  return (rows: number, messageSeconds: number, messageSecondsPerByte: number) => {
    const x = { ...opts, messageSeconds, messageSecondsPerByte };
    let sum = 0;
    for (let l = 0; l < cfg.nLayers; l++) sum += layerPhase(mc, cluster.hosts, stageOf(l), perLayer[l]!, rows, x).seconds;
    return sum / cfg.nLayers;
  };
}
