/**
 * `moe bench cluster [--steps N] [--calls N] [--threads N] [--reps N] [--warmup N] [--cluster FILE] [--json] [--out FILE]`:
 * the single-process engine and a local cluster (configs/clusters/local.yaml:
 * 2 stages with their routers, 3 expert hosts, every process on 127.0.0.1)
 * side by side in one run on the same weights:
 *
 * - decode tokens/s and ms per token at concurrency 1 and 16 (at 16 with 1, 2
 *   and 4 micro-batches in flight); the cluster ÷ single ratio is the figure;
 *   the single process's MoE per layer inside those decode steps (bench/in-step-moe.ts);
 *   both backends warmed first (`--warmup` untimed passes each, default {@link CLUSTER_WARMUP_PASSES}:
 *   a fresh cluster needs 10–15 to reach its steady rate), median of `--reps`
 *   interleaved repetitions (bench/decode-compare.ts);
 * - one dispatch + combine per layer (a router in this process → the
 *   cluster's expert hosts) against the same MoE in process and against the
 *   same frames through bare ZeroMQ (bench/echo.ts: echo processes, one per
 *   expert host, and echo sockets in this process), calls interleaved;
 * - the pipeline's own messages without compute (`seq.release` to every stage and back);
 * - these two sampled in slices after every decode repetition (bench/round-trip-rig.ts),
 *   so that they and the decode rates come from the same minutes;
 * - wire bytes per token per layer against the Arrow payload;
 * - where one dispatch + combine goes, by timestamps (bench/trace.ts).
 *
 * `--json` prints {@link ClusterBenchJson} instead of the tables (`moe plan
 * --calibrate FILE` reads it); `--out FILE` also writes it to FILE.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { ClusterMonitor, launch, stageEndpoints, type ProcessState, type RunningCluster } from "../control/index.js";
import { Engine, openModel } from "../model/index.js";
import { ensureTinyModel } from "../factory/index.js";
import { PipelineClient } from "../stages/index.js";
import { CLUSTER_BENCH_SCHEMA, formatClusterBench, type BreakdownRow, type ClusterBenchJson, type DecodeRow } from "./cluster-report.js";
import { PROMPT, WARMUP } from "./decode.js";
import { clusterTokens, compareDecode } from "./decode-compare.js";
import { InStepMoeBackend } from "./in-step-moe.js";
import { CLUSTER_WARMUP_PASSES } from "./light.js";
import { PipelineSampler, RoundTripRig } from "./round-trip-rig.js";
import { traceBreakdown } from "./round-trips.js";
import { arg } from "./args.js";

function positive(args: string[], name: string, fallback: number): number {
  const v = Number(arg(args, name, String(fallback)));
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
  return v;
}

function nonNegative(args: string[], name: string, fallback: number): number {
  const v = Number(arg(args, name, String(fallback)));
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`);
  return v;
}

/** A copy of the cluster file with every host's onnxruntime threads set to `threads`. */
function withThreads(file: string, threads: number, dir: string): string {
  const doc = parseDocument(readFileSync(file, "utf8"));
  const hosts = doc.get("hosts") as { items: { set(k: string, v: unknown): void }[] } | undefined;
  for (const h of hosts?.items ?? []) h.set("threads", threads);
  const out = join(dir, "cluster.yaml");
  writeFileSync(out, doc.toString());
  return out;
}

/** Router → expert bytes of the stage processes so far, from their control endpoints. */
function stageWire(states: readonly ProcessState[]): number {
  return states.reduce((a, s) => a + (s.status?.stage && s.status.wire ? s.status.wire.bytesOut + s.status.wire.bytesIn : 0), 0);
}

export async function run(args: string[] = []): Promise<void> {
  const steps = positive(args, "--steps", 32);
  const calls = positive(args, "--calls", 40);
  const threads = positive(args, "--threads", 1);
  const reps = positive(args, "--reps", 3);
  const warmupRounds = nonNegative(args, "--warmup", CLUSTER_WARMUP_PASSES);
  const json = args.includes("--json");
  const outFile = args.includes("--out") ? arg(args, "--out", "") : undefined;
  const clusterArg = arg(args, "--cluster", "configs/clusters/local.yaml");
  const modelDir = ensureTinyModel();
  const m = openModel(modelDir);
  const cfg = m.config;
  const engine = await Engine.create(cfg, m.weights, { threads });
  // the single process, its MoE timed inside its own decode steps (the calibration's stage compute)
  const local = new InStepMoeBackend(engine);
  const runDir = mkdtempSync(join(tmpdir(), "moe-bench-cluster-"));
  const clusterFile = threads === 1 ? clusterArg : withThreads(clusterArg, threads, runDir);
  const cluster = await launch({ clusterFile, modelPath: modelDir, runDir, gateway: false, loadIntervalMs: 3_600_000 });
  const rt = cluster.runtime;
  const client = new PipelineClient({ endpoints: stageEndpoints(rt), vocabSize: cfg.vocabSize, name: "bench", stepDeadlineMs: 60_000 });
  const progress = (s: string) => json && process.stderr.write(`bench cluster: ${s}\n`);
  let rig: RoundTripRig | undefined;
  try {
    // the round trips and pipeline messages are sampled after every decode repetition (same minutes as the decode rates)
    rig = await RoundTripRig.start({ runtime: rt, cfg, weights: m.weights, engine });
    const pipe = await PipelineSampler.start(client, rt.stages.length);
    const plan = new Map([
      [1, [1]],
      [16, [1, 2, 4]],
    ]);
    const slices = reps * plan.size;
    const perSlice = Math.ceil(calls / slices);
    const sample = async () => {
      await rig!.sample(perSlice);
      await pipe.sample(perSlice);
    };
    let wireBefore = 0;
    const decode: DecodeRow[] = await compareDecode({
      single: local,
      inStepMoe: local,
      cluster: client,
      cfg,
      processes: () => cluster.states(),
      steps,
      rounds: warmupRounds,
      reps,
      plan,
      progress,
      onWarm: async () => void (wireBefore = stageWire(await clusterStates(cluster))),
      // the rig's own calls go through the cluster's expert hosts, not its stages: the stage wire counters stay the decode's
      afterRepetition: sample,
    });
    const wireDecode = stageWire(await clusterStates(cluster)) - wireBefore;
    const pipeline = pipe.result();
    const roundTrip = rig.rows();
    progress("traced breakdown");
    const breakdown: BreakdownRow[] = await traceBreakdown({ modelDir, cfg, weights: m.weights, threads, wireDtype: rt.wireDtype, calls });
    const tokens = clusterTokens(decode, steps, reps);
    const report: ClusterBenchJson = {
      schema: CLUSTER_BENCH_SCHEMA,
      createdAt: new Date().toISOString(),
      machine: { cpus: availableParallelism(), node: process.version, platform: process.platform, arch: process.arch, loadAverage: loadavg() },
      model: { name: cfg.name, dModel: cfg.dModel, layers: cfg.nLayers, experts: cfg.nExperts, expertsPerToken: cfg.nExpertsUsed, vocabSize: cfg.vocabSize },
      cluster: { file: clusterArg, name: rt.cluster, stages: rt.stages.length, expertHosts: Object.keys(rt.expertHosts).length, processes: rt.processes.length, wireDtype: rt.wireDtype, threads },
      settings: { promptTokens: PROMPT, warmupSteps: WARMUP, decodeSteps: steps, roundTripCalls: rig.calls, traceCalls: calls, warmupRounds, repetitions: reps, roundTripSlices: slices },
      decode,
      roundTrip,
      pipeline,
      wire: {
        bytesPerTokenPerLayer: wireDecode / (tokens.generated * cfg.nLayers),
        bytesPerProcessedTokenPerLayer: wireDecode / ((tokens.generated + tokens.prompt) * cfg.nLayers),
        payloadBytesPerTokenPerLayer: cfg.nExpertsUsed * cfg.dModel * 4 * 2,
      },
      breakdown,
    };
    const text = JSON.stringify(report, null, 2);
    if (outFile) writeFileSync(outFile, text + "\n");
    console.log(json ? text : formatClusterBench(report));
  } finally {
    await rig?.close();
    await client.close();
    await cluster.stop();
    await local.close();
    m.close();
    rmSync(runDir, { recursive: true, force: true });
  }
}

/** Every process's status, polled once. */
async function clusterStates(cluster: RunningCluster): Promise<readonly ProcessState[]> {
  const mon = new ClusterMonitor(cluster.runtime, { timeoutMs: 2000 });
  try {
    return await mon.poll();
  } finally {
    await mon.close();
  }
}
