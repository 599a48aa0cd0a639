/**
 * The light entry of bench/: the benchmark names and the runner, which imports each benchmark only
 * when it runs (for `moe bench` and `moe --help` at start-up). index.ts re-exports these too.
 */

export const BENCHES = ["engine", "kernels", "sampling", "planner", "cluster", "serve", "dynamic", "llama", "cluster-ab"] as const;

/**
 * Run only when named: `llama` installs llama.cpp (~730 MB) on first use; `cluster-ab` is an experiment
 * driver (several clusters with different V8 flags side by side).
 */
export const ON_DEMAND_BENCHES: readonly string[] = ["llama", "cluster-ab"];

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
};

/** Run the named benchmarks in order (all but the on-demand `llama` when none is named); each prints its own figures. */
export async function runBenches(names: readonly string[], args: string[]): Promise<void> {
  for (const n of names.length ? names : DEFAULT_BENCHES) {
    if (!(BENCHES as readonly string[]).includes(n)) throw new Error(`unknown benchmark '${n}'; choose one of: ${BENCHES.join(", ")}`);
    const mod = await LOADERS[n as (typeof BENCHES)[number]]();
    // with --json stdout carries only the JSON
    if (args.includes("--json")) process.stderr.write(`=== bench ${n} ===
`);
    else console.log(`
=== bench ${n} ===`);
    await mod.run(args);
  }
}
