/** The benchmarks (`npm run bench -- <name>`, `moe bench <name>`); never part of `npm test`. */

export const BENCHES = ["engine", "kernels", "sampling", "planner", "cluster", "serve", "dynamic"] as const;

type Bench = { run(args: string[]): Promise<void> };
const LOADERS: Record<(typeof BENCHES)[number], () => Promise<Bench>> = {
  engine: () => import("./engine.js"),
  kernels: () => import("./kernels.js"),
  sampling: () => import("./sampling.js"),
  planner: () => import("./planner.js"),
  cluster: () => import("./cluster.js"),
  serve: () => import("./serve.js"),
  dynamic: () => import("./dynamic.js"),
};

/** Run the named benchmarks in order (all when none is named); each prints its own figures. */
export async function runBenches(names: readonly string[], args: string[]): Promise<void> {
  for (const n of names.length ? names : BENCHES) {
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

// the parts of `bench cluster`, for tests
export { CLUSTER_BENCH_SCHEMA, formatClusterBench, hopsBeyondRaw } from "./cluster-report.js";
export type { BreakdownRow, ClusterBenchJson, DecodeRow, RoundTripLayer, RoundTripRow } from "./cluster-report.js";
export { EchoChildren, EchoClient, EchoServer, MAX_REPLY_BYTES } from "./echo.js";
export type { EchoFrame } from "./echo.js";
export { benchRows, callBytes, callCpu, layerCall } from "./moe-calls.js";
export { clusterTokens, compareDecode } from "./decode-compare.js";
export type { DecodeCompareOptions } from "./decode-compare.js";
export type { CallCpu, CallDispatch, CallPlacement, LayerCall } from "./moe-calls.js";
export { TRACE_PARTS, TraceHost, traceCalls } from "./trace.js";
export type { TraceBreakdown, TracePart, TraceRecord } from "./trace.js";
