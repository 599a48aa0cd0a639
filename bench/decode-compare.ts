/**
 * Decode rates of the single process and the cluster, measured side by side
 * the way a long-running server sees them:
 *
 * - **warm-up first**: every process is fresh (V8 compiles the hot paths of the
 *   codec, the router and the engine only after they ran a while: in one
 *   measured run, the cluster's decode at concurrency 16 rose from 408 to 730
 *   tokens/s over its first six passes), so both backends run the same untimed
 *   decode passes (concurrency 16, `rounds` passes each, alternating) before
 *   anything is timed;
 * - **interleaved repetitions**: each row is measured `reps` times, single and
 *   cluster one after the other in every repetition, so that a burst of other
 *   work on a shared machine hits both; the row reports the median repetition
 *   (robust to one lucky or unlucky pass, which the best-of would pick; the
 *   planner's calibration fits and checks against these rates) and keeps every
 *   repetition's rate.
 *
 * CPU per token is summed over every repetition of a row (more ticks, less noise).
 *
 * With `inStepMoe` (bench/in-step-moe.ts), each single-process row also
 * records the mean time of one layer's MoE inside its timed decode steps, taken
 * from the same repetition as the row's rate.
 */
import type { ModelConfig } from "../model/index.js";
import type { StepBackend } from "../stages/index.js";
import type { DecodeRow } from "./cluster-report.js";
import { cpuPerToken, cpuSnapshot, machineBusySeconds } from "./cpu.js";
import { PROMPT, WARMUP, decodeRate, type Rate } from "./decode.js";
import type { InStepMoe, InStepMoeTimer } from "./in-step-moe.js";

/** What {@link compareDecode} needs. */
export interface DecodeCompareOptions {
  readonly single: StepBackend;
  readonly cluster: StepBackend;
  readonly cfg: ModelConfig;
  /** The cluster's processes (for /proc CPU), read before and after every run. */
  readonly processes: () => readonly { readonly name: string; readonly pid: number }[];
  /** Timed decode steps per run. */
  readonly steps: number;
  /** Untimed warm-up passes per backend before the first timed run. */
  readonly rounds: number;
  /** Timed repetitions per row; the median is reported. */
  readonly reps: number;
  /** Concurrency → micro-batches in flight to measure the cluster with (the single process steps one batch). */
  readonly plan: ReadonlyMap<number, readonly number[]>;
  readonly progress?: (what: string) => void;
  /** Called once the warm-up passes are done, before the first timed run (e.g. to read counters). */
  readonly onWarm?: () => Promise<void>;
  /** Called after every repetition of every row (e.g. to sample the round trips in the same minutes as the decode runs). */
  readonly afterRepetition?: () => Promise<void>;
  /** The single backend's MoE timer (bench/in-step-moe.ts): reset before and read after each single-process run. */
  readonly inStepMoe?: InStepMoeTimer;
}

type Measured = Rate & { readonly moe?: InStepMoe };

interface Acc {
  readonly rates: Measured[];
  cpu: Record<string, number>;
  /** Wall seconds of the runs, the machine's busy CPU seconds and the measured processes' (this one included) over them. */
  wall: number;
  machine: number;
  own: number;
}

const newAcc = (): Acc => ({ rates: [], cpu: {}, wall: 0, machine: 0, own: 0 });

/** Run `backend` once and add its rate (with the in-step MoE of `moe`, if given) and CPU to `acc`. */
async function measure(acc: Acc, backend: StepBackend, o: DecodeCompareOptions, c: number, mb: number, seqBase: number, procs: () => readonly { name: string; pid: number }[], moe?: InStepMoeTimer): Promise<void> {
  const before = cpuSnapshot(procs());
  const m0 = machineBusySeconds();
  const t0 = performance.now();
  moe?.reset();
  const rate = await decodeRate(backend, o.cfg, c, mb, o.steps, seqBase);
  const wall = (performance.now() - t0) / 1000;
  const m1 = machineBusySeconds();
  // the run's timed decode steps only (one batch: the single process)
  acc.rates.push(moe ? { ...rate, moe: moe.take(o.steps) } : rate);
  const after = cpuSnapshot(procs());
  const cpu = cpuPerToken(before, after, c * (o.steps + WARMUP + 1));
  for (const [k, v] of Object.entries(cpu)) acc.cpu[k] = (acc.cpu[k] ?? 0) + v;
  if (m0 !== undefined && m1 !== undefined) {
    acc.wall += wall;
    acc.machine += m1 - m0;
    for (const [k, a] of after) acc.own += a - (before.get(k) ?? a);
  }
}

/** The machine's busy cores and the measured processes' over the runs of `a` (absent off Linux). */
const machineCpu = (a: Acc): { machineCpu?: { busyCores: number; ownCores: number } } => (a.wall > 0 ? { machineCpu: { busyCores: a.machine / a.wall, ownCores: a.own / a.wall } } : {});

/** The median repetition (the lower middle one for an even count). */
const median = (rates: readonly Measured[]): Measured => [...rates].sort((a, b) => a.tokensPerSecond - b.tokensPerSecond)[(rates.length - 1) >> 1]!;
const mean = (cpu: Record<string, number>, n: number): Record<string, number> => Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v / n]));

/**
 * Warm both backends, then measure every row of `plan` `reps` times, interleaved; each row is its median repetition.
 * @returns one row per (concurrency, backend, micro-batches), single first at each concurrency
 */
export async function compareDecode(o: DecodeCompareOptions): Promise<DecodeRow[]> {
  let seq = 100_000;
  const next = (n: number): number => ((seq += n + 16), seq);
  for (let w = 0; w < o.rounds; w++) {
    o.progress?.(`warm-up pass ${w + 1} of ${o.rounds}`);
    await decodeRate(o.single, o.cfg, 16, 1, o.steps, next(16));
    await decodeRate(o.cluster, o.cfg, 16, 1, o.steps, next(16));
  }
  await o.onWarm?.();
  const rows: DecodeRow[] = [];
  for (const [c, mbs] of o.plan) {
    o.progress?.(`decode at concurrency ${c} (${o.reps} repetitions)`);
    const single = newAcc();
    const cluster = new Map<number, Acc>(mbs.map((mb) => [mb, newAcc()]));
    for (let r = 0; r < o.reps; r++) {
      await measure(single, o.single, o, c, 1, next(c), () => [], o.inStepMoe);
      for (const mb of mbs) await measure(cluster.get(mb)!, o.cluster, o, c, mb, next(c), o.processes);
      await o.afterRepetition?.();
    }
    const { moe, ...s } = median(single.rates);
    const inStep = moe ? { moeMsPerLayer: moe.msPerLayer } : {};
    rows.push({ concurrency: c, backend: "single", microBatches: 1, ...s, ...inStep, clusterOverSingle: null, cpuMsPerToken: mean(single.cpu, o.reps), ...machineCpu(single), repetitions: single.rates.map((x) => x.tokensPerSecond) });
    for (const mb of mbs) {
      const a = cluster.get(mb)!;
      const { moe: _, ...b } = median(a.rates);
      rows.push({ concurrency: c, backend: "cluster", microBatches: mb, ...b, clusterOverSingle: b.tokensPerSecond / s.tokensPerSecond, cpuMsPerToken: mean(a.cpu, o.reps), ...machineCpu(a), repetitions: a.rates.map((x) => x.tokensPerSecond) });
    }
  }
  return rows;
}

/** Prompt tokens the timed runs of `rows` processed through the cluster (for wire bytes per token). */
export function clusterTokens(rows: readonly DecodeRow[], steps: number, reps: number): { generated: number; prompt: number } {
  const cl = rows.filter((d) => d.backend === "cluster");
  return {
    generated: cl.reduce((a, d) => a + reps * d.concurrency * (steps + WARMUP + 1), 0),
    prompt: cl.reduce((a, d) => a + reps * d.concurrency * (PROMPT - 1), 0),
  };
}
