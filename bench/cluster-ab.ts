/**
 * `moe bench cluster-ab [--variants JSON] [--steps N] [--reps N] [--warmup N] [--mb 1,2,4] [--cluster FILE] [--json] [--tids] [--keep]`:
 * several copies of a local cluster side by side, each started with its own extra V8 / Node flags
 * (`$MOE_NODE_FLAGS` for its `moe` processes) and its own environment, decoding in turn (interleaved repetitions,
 * the order rotated every repetition) against the single-process engine, so that an A/B of a runtime setting
 * sees the same machine noise. Reports per variant: tokens/s at concurrency 16 (median), cluster ÷ single, and
 * CPU ms per token summed over the cluster's processes (and this process as the client), split by thread kind
 * (main thread, helpers — V8's platform workers and libuv's pool, which Node 20 leaves unnamed —, ZeroMQ's
 * I/O thread) from `/proc/PID/task`, per variant and per repetition (`cpuReps`, for paired comparisons).
 * `--tids` also prints every thread's CPU ticks over the timed passes (stderr); `--keep` keeps each
 * cluster's run directory (its processes' logs).
 *
 * `--variants '[{"name":"base","flags":""},{"name":"semi16","flags":"--max-semi-space-size=16"}]'`.
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import type { RunningCluster } from "../control/index.js";
import { Engine, openModel } from "../model/index.js";
import { ensureTinyModel } from "../factory/index.js";
import { LocalBackend, type PipelineClient } from "../stages/index.js";
import { selfCpuSeconds, threadCpu } from "./cpu.js";
import { WARMUP, decodeRate } from "./decode.js";
import { startFlaggedCluster } from "./flagged-cluster.js";
import { CLUSTER_WARMUP_PASSES } from "./light.js";
import { arg } from "./args.js";

interface Variant {
  readonly name: string;
  readonly flags: string;
  readonly env?: Record<string, string>;
}

interface Running {
  readonly v: Variant;
  readonly cluster: RunningCluster;
  readonly client: PipelineClient;
  readonly runDir: string;
  readonly rates: Map<number, number[]>;
  readonly cpu: Map<number, Record<string, number>>;
  /** CPU ms per token of each repetition (for paired comparisons). */
  readonly cpuReps: Map<number, number[]>;
}

/** CPU seconds by thread kind (main, zmq, helpers) summed over the processes `pids` ({@link threadCpu}). */
function clusterThreadCpu(pids: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of pids)
    for (const [k, v] of Object.entries(threadCpu(pid))) if (k !== "sys" && k !== "minflt") out[k] = (out[k] ?? 0) + v;
  return out;
}

export async function run(args: string[] = []): Promise<void> {
  const variants = JSON.parse(arg(args, "--variants", '[{"name":"base","flags":""}]')) as Variant[];
  const steps = Number(arg(args, "--steps", "32"));
  const reps = Number(arg(args, "--reps", "4"));
  const warm = Number(arg(args, "--warmup", String(CLUSTER_WARMUP_PASSES)));
  const mbs = arg(args, "--mb", "1").split(",").map(Number);
  const clusterFile = arg(args, "--cluster", "configs/clusters/local.yaml");
  const modelDir = ensureTinyModel();
  const m = openModel(modelDir);
  const cfg = m.config;
  const engine = await Engine.create(cfg, m.weights, { threads: 1 });
  const local = new LocalBackend(engine);
  const running: Running[] = [];
  let seq = 100_000;
  const next = (n: number): number => ((seq += n + 16), seq);
  const singleRates: number[] = [];
  let singleCpu = 0;
  const load: number[] = [loadavg()[0]!];
  try {
    for (const v of variants) {
      const started = await startFlaggedCluster({ clusterFile, modelDir, vocabSize: cfg.vocabSize, name: `ab-${v.name}`, flags: v.flags, ...(v.env ? { env: v.env } : {}) });
      running.push({ v, ...started, rates: new Map(), cpu: new Map(), cpuReps: new Map() });
    }
    for (let w = 0; w < warm; w++) {
      await decodeRate(local, cfg, 16, 1, steps, next(16));
      for (const r of running) await decodeRate(r.client, cfg, 16, 1, steps, next(16));
    }
    const tids = (): Map<string, number> => {
      const m = new Map<string, number>();
      for (const r of running)
        for (const st of r.cluster.states())
          for (const tid of readdirSync(`/proc/${st.pid}/task`)) {
            try {
              const stat = readFileSync(`/proc/${st.pid}/task/${tid}/stat`, "utf8");
              const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
              m.set(`${r.v.name}/${st.name}/${Number(tid) - st.pid}/${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}`, Number(f[11]) + Number(f[12]));
            } catch {
              // gone
            }
          }
      return m;
    };
    const t0 = args.includes("--tids") ? tids() : undefined;
    for (let rep = 0; rep < reps; rep++) {
      const c0 = selfCpuSeconds();
      singleRates.push((await decodeRate(local, cfg, 16, 1, steps, next(16))).tokensPerSecond);
      singleCpu += ((selfCpuSeconds() - c0) * 1000) / (16 * (steps + WARMUP + 1));
      for (let i = 0; i < running.length; i++) {
        const r = running[(i + rep) % running.length]!;
        const pids = r.cluster.states().map((s) => s.pid);
        for (const mb of mbs) {
          const b = clusterThreadCpu(pids);
          const s0 = selfCpuSeconds();
          const rate = await decodeRate(r.client, cfg, 16, mb, steps, next(16));
          const a = clusterThreadCpu(pids);
          const tokens = 16 * (steps + WARMUP + 1);
          const acc = r.cpu.get(mb) ?? {};
          for (const [k, v] of Object.entries(a)) acc[k] = (acc[k] ?? 0) + ((v - (b[k] ?? 0)) * 1000) / tokens;
          acc.client = (acc.client ?? 0) + ((selfCpuSeconds() - s0) * 1000) / tokens;
          const passCpu = Object.values(a).reduce((x, y) => x + y, 0) - Object.values(b).reduce((x, y) => x + y, 0) + (selfCpuSeconds() - s0);
          r.cpuReps.set(mb, [...(r.cpuReps.get(mb) ?? []), Number(((passCpu * 1000) / tokens).toFixed(3))]);
          r.cpu.set(mb, acc);
          r.rates.set(mb, [...(r.rates.get(mb) ?? []), rate.tokensPerSecond]);
        }
      }
      load.push(loadavg()[0]!);
    }
    if (t0) for (const [k, v] of tids()) if (v - (t0.get(k) ?? 0) > 0) process.stderr.write(`${k} ${v - (t0.get(k) ?? 0)} ticks\n`);
    const med = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;
    const single = med(singleRates);
    const out = {
      load,
      single: { tokensPerSecond: single, repetitions: singleRates, cpuMsPerToken: singleCpu / reps },
      variants: running.map((r) => ({
        name: r.v.name,
        flags: r.v.flags,
        env: r.v.env ?? {},
        rows: mbs.map((mb) => {
          const cpu = Object.fromEntries(Object.entries(r.cpu.get(mb)!).map(([k, v]) => [k, Number((v / reps).toFixed(3))]));
          const total = Object.values(cpu).reduce((x, y) => x + y, 0);
          const rates = r.rates.get(mb)!;
          return { microBatches: mb, tokensPerSecond: med(rates), clusterOverSingle: med(rates) / single, repetitions: rates.map(Math.round), cpuReps: r.cpuReps.get(mb), cpuMsPerToken: Number(total.toFixed(3)), cpuByThread: cpu };
        }),
      })),
    };
    console.log(JSON.stringify(out, null, args.includes("--json") ? 2 : 0));
  } finally {
    for (const r of running) {
      await r.client.close();
      await r.cluster.stop();
      if (args.includes("--keep")) process.stderr.write(`kept ${r.v.name}: ${r.runDir}\n`);
      else rmSync(r.runDir, { recursive: true, force: true });
    }
    await local.close();
    m.close();
  }
}
