/**
 * The light entry of bench/: the benchmark names, their usage, the command line shared by
 * `npm run bench` and `moe bench` ({@link benchCommand}) and the runner, which imports each benchmark
 * only when it runs (for `moe bench` and `moe --help` at start-up). index.ts re-exports these too.
 */
import { LLAMA_ARGS } from "./llama-report.js";

export const BENCHES = ["engine", "kernels", "sampling", "planner", "cluster", "serve", "dynamic", "llama", "cluster-ab", "warmup-trend", "unload"] as const;

/**
 * Run only when named: `llama` installs llama.cpp (~730 MB) on first use; `cluster-ab` is an experiment
 * driver (several clusters with different V8 flags side by side); `warmup-trend` follows one fresh cluster
 * pass by pass (an experiment driver too).
 */
export const ON_DEMAND_BENCHES: readonly string[] = ["llama", "cluster-ab", "warmup-trend"];

/**
 * Untimed decode passes (concurrency 16, 32 steps each) of every backend before `moe bench cluster` and
 * `cluster-ab` time anything. A fresh local cluster keeps getting faster for about 10–15 such passes (session 7:
 * CPU ms per token 3.6–4.3 in the first pass, 2.5 after 3, a plateau of 1.3–1.7 from pass 10–15 on, in four
 * runs; the single process is warm after one), so 3 passes measured a cluster still warming up.
 */
export const CLUSTER_WARMUP_PASSES = 12;

/** Each benchmark's arguments, as `moe bench --help` and `moe bench NAME --help` print them. */
export const BENCH_USAGE: Record<(typeof BENCHES)[number], string> = {
  engine:
    "[--model PATH]... [--threads 1,2] [--batches 1,16] [--prompt 128] [--steps 32] [--reps 3] [--variants f32,int8,exact,dequantize] [--compare DIST_DIR] [--spin] [--single-thread-rows N] [--expert-workers 0,2] [--experts expert,layer,layer-par] [--keep-context] [--json]",
  kernels: "[--threads 1,2] [--json]",
  sampling: "(no arguments)",
  planner: "[--runs 5] [--concurrency 8]",
  cluster: `[--cluster FILE] [--threads N] [--steps 32] [--calls 40] [--reps 3] [--warmup ${CLUSTER_WARMUP_PASSES}] [--json] [--out FILE]`,
  serve: "(no arguments)",
  dynamic: "[--threads 1,2] [--heartbeat-timeout 3] [--skip-recovery] [--skip-transfer]",
  llama:
    `${LLAMA_ARGS} (against llama.cpp: installs node-llama-cpp, ~730 MB, into bench/llama-cpp on first use, or set MOE_LLAMA_CPP_DIR)`,
  "cluster-ab":
    `[--variants JSON] [--mb 1,2,4] [--cluster FILE] [--steps 32] [--reps 4] [--warmup ${CLUSTER_WARMUP_PASSES}] [--json] (several copies of a local cluster, each with its own extra V8 flags, decoding in turn at concurrency 16)`,
  "warmup-trend":
    "[--reps 40] [--steps 32] [--flags V8_FLAGS] [--idle-s N] [--stop-every N] [--cluster FILE] (one fresh local cluster, no warm-up: every pass's tokens/s and CPU per token by process and thread kind, the single process beside it, also with the cluster stopped every N passes; JSON lines)",
  unload:
    "[--model PATH]... [--keep 4] [--threads 1] [--reps 2] [--json] (an expert host loads every expert, then keeps the first --keep of each layer: RSS before/after, resident expert weights, rebuild time; beside a host that loaded only those)",
};

/** `usage: moe bench NAME ARGS`: the line a benchmark's argument errors end with. */
export function benchUsage(name: (typeof BENCHES)[number]): string {
  return `usage: moe bench ${name} ${BENCH_USAGE[name]}`;
}

/** What runs when no benchmark is named: all but {@link ON_DEMAND_BENCHES}. */
export const DEFAULT_BENCHES: readonly string[] = BENCHES.filter((b) => !ON_DEMAND_BENCHES.includes(b));

type Bench = { run(args: string[]): Promise<void> };
const LOADERS: Record<(typeof BENCHES)[number], () => Promise<Bench>> = {
  engine: () => import("./engine.js"),
  kernels: () => import("./kernels.js"),
  sampling: () => import("./sampling.js"),
  planner: () => import("./planner.js"),
  cluster: () => import("./cluster.js"),
  serve: () => import("./serve.js"),
  dynamic: () => import("./dynamic.js"),
  llama: () => import("./llama.js"),
  "cluster-ab": () => import("./cluster-ab.js"),
  "warmup-trend": () => import("./warmup-trend.js"),
  unload: () => import("./unload.js"),
};

/** Whether `a` asks for help. */
const isHelp = (a: string): boolean => a === "--help" || a === "-h";

/**
 * Run the named benchmarks in order (all but the on-demand ones when none is named); each prints its own
 * figures. With `--help` / `-h` among `args` it prints their {@link BENCH_USAGE} instead and runs nothing.
 */
export async function runBenches(names: readonly string[], args: string[]): Promise<void> {
  const chosen = names.length ? names : DEFAULT_BENCHES;
  for (const n of chosen)
    if (!(BENCHES as readonly string[]).includes(n)) throw new Error(`unknown benchmark '${n}'; choose one of: ${BENCHES.join(", ")}`);
  if (args.some(isHelp)) {
    for (const n of chosen) console.log(`bench ${n} ${BENCH_USAGE[n as (typeof BENCHES)[number]]}`);
    return;
  }
  for (const n of chosen) {
    const mod = await LOADERS[n as (typeof BENCHES)[number]]();
    // with --json stdout carries only the JSON
    if (args.includes("--json")) process.stderr.write(`=== bench ${n} ===
`);
    else console.log(`
=== bench ${n} ===`);
    await mod.run(args);
  }
}

/** The `--model PATH` / `--model=PATH` values of a benchmark's arguments. */
export function benchModelPaths(args: readonly string[]): string[] {
  const paths: string[] = [];
  args.forEach((a, i) => {
    if (a === "--model" && i + 1 < args.length) paths.push(args[i + 1]!);
    else if (a.startsWith("--model=")) paths.push(a.slice("--model=".length));
  });
  return paths;
}

/**
 * `npm run bench -- [NAME] [ARGS]` and `moe bench [NAME] [ARGS]`. An argument where the name goes that
 * starts with `-` is an argument, not a name. `--help` / `-h`: NAME's usage; without a name, `listHelp`
 * (`moe bench --help`: commander's help of the command) or, without one, every benchmark's usage.
 * Otherwise, for a `--model` of 1 GiB or more, this command line runs again on huge pages
 * (`reexecWithHugePages`, model/huge-pages.ts: as `moe generate` / `moe serve` run such weights;
 * `MOE_HUGE_PAGES=0` keeps the default malloc; full-width Grok-1 Q8_0, prefill of 32 tokens on 1 thread:
 * 0.79–0.83 s instead of 0.93–0.99 s, README, full width), and then the benchmarks run ({@link runBenches}).
 */
export async function benchCommand(name: string | undefined, args: string[], listHelp?: () => void): Promise<void> {
  if (name !== undefined && name.startsWith("-")) [name, args] = [undefined, [name, ...args]];
  if (args.some(isHelp)) {
    if (name === undefined && listHelp) listHelp();
    else await runBenches(name === undefined ? BENCHES : [name], ["--help"]);
    return;
  }
  const paths = benchModelPaths(args);
  if (paths.length > 0) {
    // model/ (onnxruntime...) only when a --model is given: the benchmark loads it anyway
    const { reexecWithHugePages, weightFileBytes } = await import("../model/index.js");
    const biggest = paths.sort((a, b) => weightFileBytes(b) - weightFileBytes(a))[0]!;
    if (await reexecWithHugePages(biggest, true)) return;
  }
  await runBenches(name === undefined ? [] : [name], args);
}
