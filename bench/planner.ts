/**
 * `npm run bench -- planner [--runs N] [--concurrency N]`: time to plan Grok-1
 * (int8) on heterogeneous clusters of 8, 64 and 256 hosts.
 */
import { presetConfig } from "../model/index.js";
import { parseClusterConfig } from "../config/index.js";
import { formatBytes, makePlan, resolveCluster, table, type ClusterSpec } from "../planner/index.js";

const KINDS = ["h100-80gb", "a100-80gb", "rtx-4090", "h200", "a100-40gb", "l4", "m2-ultra-192gb", "rtx-3090"] as const;

/** `n` hosts cycling through common devices, each on 100 Gbit/s with 50 µs per message. */
function cluster(n: number): ClusterSpec {
  const hosts = Array.from({ length: n }, (_, i) => ({ name: `host${i}`, device: KINDS[i % KINDS.length]! }));
  return resolveCluster(parseClusterConfig({ name: `bench-${n}`, network: { bandwidth: "100Gbit/s", latency: "50us" }, hosts }).planning);
}

function flag(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : dflt;
}

/** Print the planning-time table. */
export async function run(args: string[]): Promise<void> {
  const runs = flag(args, "--runs", 5);
  const concurrency = flag(args, "--concurrency", 8);
  const grok = presetConfig("grok-1");
  const rows: string[][] = [];
  for (const n of [8, 64, 256]) {
    const c = cluster(n);
    const o = { dtype: "int8" as const, concurrency };
    let plan = makePlan(grok, c, o); // warm-up
    const times: number[] = [];
    for (let k = 0; k < runs; k++) {
      const t0 = performance.now();
      plan = makePlan(grok, c, o);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const memory = c.hosts.reduce((a, h) => a + h.memoryBytes, 0);
    rows.push([
      String(n),
      formatBytes(memory),
      plan.fits ? "yes" : "no",
      String(plan.stages.length),
      String(plan.hosts.filter((h) => h.expertSlots > 0).length),
      times[Math.floor(times.length / 2)]!.toFixed(1),
      times[0]!.toFixed(1),
      times[times.length - 1]!.toFixed(1),
      plan.predicted.decodeTokensPerSecond.toFixed(1),
      plan.predicted.decodeTokensPerSecondAggregate.toFixed(0),
    ]);
  }
  console.log(`planning grok-1 int8, concurrency ${concurrency}, context 8192; ${runs} runs after one warm-up; devices cycle through ${KINDS.join(", ")}`);
  console.log(table(["hosts", "memory", "fits", "stages", "expert hosts", "plan ms (median)", "min", "max", "tok/s/seq", "tok/s total"], rows));
}
