/**
 * `moe bench warmup-trend [--reps N] [--steps N] [--flags "V8 flags"] [--idle-s N] [--stop-every N] [--cluster FILE] [--warmup-passes N] [--no-single]`:
 * one local cluster from cold, decode at concurrency 16 (1 micro-batch) repetition by repetition with no warm-up,
 * the single process beside it in every repetition; prints per repetition the cluster's tokens/s, its CPU ms per
 * token by process and thread kind (`kinds.sys`: the system part of it, `kinds.minflt`: minor page faults per
 * token, both beside the kinds, not added to `cpu`), the single process's tokens/s, and the CPU the idle cluster spent during the
 * single pass. Every `--stop-every` repetitions the single process also decodes with the cluster's processes
 * stopped (SIGSTOP), to see whether the idle cluster disturbs it. `--idle-s` waits before the first pass (does
 * warm-up follow passes or wall time?). V8's tier-up over time: `--flags "--log-code --log-deopt --logfile=DIR/%p.log
 * --no-logfile-per-isolate"` (code-creation lines ending in `*` are TurboFan code; the processes' stdout is not kept).
 * `--warmup-passes N` starts the cluster with its gateway and that many start-up warm-up passes (0: the gateway
 * without warm-up; absent: no gateway, as before) and prints the launch's wall time (`start`): pair runs with 0
 * and N to see what the start-up warm-up removes and what it costs. `--no-single` skips the single-process pass.
 * The last line summarises CPU ms per token and tokens/s over passes 1–3, 4–6 and the last 5.
 * Runs only when named.
 */
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import { Engine, openModel } from "../model/index.js";
import { ensureTinyModel } from "../factory/index.js";
import { LocalBackend } from "../stages/index.js";
import { kindsSeconds, selfCpuSeconds, threadCpu } from "./cpu.js";
import { WARMUP, decodeRate } from "./decode.js";
import { startFlaggedCluster } from "./flagged-cluster.js";
import { arg } from "./args.js";

export async function run(args: string[] = []): Promise<void> {
  const reps = Number(arg(args, "--reps", "40"));
  const steps = Number(arg(args, "--steps", "32"));
  const idle = Number(arg(args, "--idle-s", "0"));
  const stopEvery = Number(arg(args, "--stop-every", "0"));
  const flags = arg(args, "--flags", "");
  const clusterFile = arg(args, "--cluster", "configs/clusters/local.yaml");
  const warmArg = arg(args, "--warmup-passes", "");
  const warmupPasses = warmArg === "" ? undefined : Number(warmArg);
  const noSingle = args.includes("--no-single");
  const modelDir = ensureTinyModel();
  const m = openModel(modelDir);
  const cfg = m.config;
  const engine = await Engine.create(cfg, m.weights, { threads: 1 });
  const local = new LocalBackend(engine);
  const { cluster, client, runDir, startSeconds } = await startFlaggedCluster({ clusterFile, modelDir, vocabSize: cfg.vocabSize, name: "warm", flags, ...(warmupPasses !== undefined ? { warmupPasses } : {}) });
  process.stdout.write(JSON.stringify({ start: Number(startSeconds.toFixed(2)), warmupPasses: warmupPasses ?? null, load: loadavg()[0] }) + "\n");
  const rows: { cpu: number; rate: number }[] = [];
  let seq = 100_000;
  const next = (n: number): number => ((seq += n + 16), seq);
  const tokens = 16 * (steps + WARMUP + 1);
  const t0 = performance.now();
  try {
    // the gateway (when started) idles while the bench decodes through its own client: left out
    const procs = cluster.states().filter((s) => s.name !== cluster.runtime.gateway).map((s) => ({ name: s.name, pid: s.pid }));
    const snap = () => new Map(procs.map((p) => [p.name, threadCpu(p.pid)]));
    if (idle > 0) {
      const a = snap();
      await new Promise((r) => setTimeout(r, idle * 1000));
      const b = snap();
      process.stdout.write(JSON.stringify({ idleSeconds: idle, idleCpuMs: Object.fromEntries(procs.map((p) => [p.name, Math.round((kindsSeconds(b.get(p.name)!) - kindsSeconds(a.get(p.name)!)) * 1000)])) }) + "\n");
    }
    for (let rep = 0; rep < reps; rep++) {
      // single, cluster idle
      const i0 = snap();
      const c0 = selfCpuSeconds();
      const single = noSingle ? 0 : (await decodeRate(local, cfg, 16, 1, steps, next(16))).tokensPerSecond;
      const singleCpu = ((selfCpuSeconds() - c0) * 1000) / tokens;
      const i1 = snap();
      const idleCpuMs = procs.reduce((a, p) => a + kindsSeconds(i1.get(p.name)!) - kindsSeconds(i0.get(p.name)!), 0) * 1000;
      let stopped: number | undefined;
      if (stopEvery > 0 && rep % stopEvery === 0) {
        for (const p of procs) process.kill(p.pid, "SIGSTOP");
        try {
          stopped = (await decodeRate(local, cfg, 16, 1, steps, next(16))).tokensPerSecond;
        } finally {
          for (const p of procs) process.kill(p.pid, "SIGCONT");
        }
      }
      // cluster
      const b = snap();
      const s0 = selfCpuSeconds();
      const rate = (await decodeRate(client, cfg, 16, 1, steps, next(16))).tokensPerSecond;
      const client_ = ((selfCpuSeconds() - s0) * 1000) / tokens;
      const a = snap();
      const kinds: Record<string, number> = { client: client_ };
      const byProc: Record<string, number> = {};
      for (const p of procs) {
        const x = a.get(p.name)!;
        const y = b.get(p.name)!;
        for (const k of Object.keys(x)) kinds[k] = (kinds[k] ?? 0) + ((x[k]! - (y[k] ?? 0)) * (k === "minflt" ? 1 : 1000)) / tokens;
        byProc[p.name] = Number((((kindsSeconds(x) - kindsSeconds(y)) * 1000) / tokens).toFixed(3));
      }
      const r3 = (v: number) => Number(v.toFixed(3));
      rows.push({ cpu: kindsSeconds(kinds), rate });
      process.stdout.write(
        JSON.stringify({
          rep,
          t: Math.round((performance.now() - t0) / 100) / 10,
          load: loadavg()[0],
          cluster: Math.round(rate),
          cpu: r3(kindsSeconds(kinds)),
          kinds: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, r3(v)])),
          byProc,
          single: Math.round(single),
          singleCpu: r3(singleCpu),
          idleCpuMs: Math.round(idleCpuMs),
          ...(stopped !== undefined ? { singleStopped: Math.round(stopped) } : {}),
        }) + "\n",
      );
    }
    const avg = (xs: { cpu: number; rate: number }[]) => ({ cpu: Number((xs.reduce((a, x) => a + x.cpu, 0) / xs.length).toFixed(3)), rate: Math.round(xs.reduce((a, x) => a + x.rate, 0) / xs.length) });
    if (rows.length >= 8) process.stdout.write(JSON.stringify({ summary: { warmupPasses: warmupPasses ?? null, start: Number(startSeconds.toFixed(2)), p1to3: avg(rows.slice(0, 3)), p4to6: avg(rows.slice(3, 6)), last5: avg(rows.slice(-5)) } }) + "\n");
  } finally {
    await client.close();
    await cluster.stop();
    rmSync(runDir, { recursive: true, force: true });
    await local.close();
    m.close();
  }
}
