/**
 * `moe up CLUSTER.yaml` when the file has `nats:`: run the coordinator of a
 * dynamic cluster and print its progress — hosts joining, the plan, weight
 * downloads, hosts ready, host losses and recoveries — until Ctrl-C.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { pino } from "pino";
import { clusterName, defaultRunDir, launchDynamic, logFile, RUN_FILES, type Coordinator, type CoordinatorEvent } from "../control/index.js";
import { loadClusterConfig } from "../config/index.js";
import { formatBytes, formatPlan, formatRate } from "../planner/index.js";

/** Flags of `moe up` that dynamic mode reads. */
export interface DynamicUpFlags {
  model?: string;
  port?: number;
  host?: string;
  gateway: boolean;
  runDir?: string;
  keys?: string;
  apiKey?: string;
  readyTimeout: number;
  minHosts?: number;
  heartbeatTimeout?: number;
  warmupPasses?: number;
  quiet?: boolean;
}

function reporter(quiet: boolean): (e: CoordinatorEvent) => void {
  const lastProgress = new Map<string, number>();
  return (e) => {
    switch (e.kind) {
      case "waiting":
        console.log(`waiting for hosts: ${e.joined.length}/${e.minHosts} joined${e.joined.length ? ` (${e.joined.join(", ")})` : ""}; start them with \`moe node --join NATS_URL --name NAME\``);
        break;
      case "joined":
        console.log(`  joined   ${e.host.padEnd(16)} ${e.detail}`);
        break;
      case "rejected":
        console.error(`  refused  ${e.host}: ${e.error}`);
        break;
      case "plan":
        if (!quiet && e.reason === "initial") console.log(formatPlan(e.plan) + "\n");
        console.log(`plan ${e.version} (${e.reason}): ${e.runtime.stages.length} stages, ${Object.keys(e.runtime.expertHosts).length} expert hosts; run directory ${e.runtime.runDir}`);
        break;
      case "host": {
        if (e.state === "fetching" && e.progress) {
          const now = Date.now();
          if (now - (lastProgress.get(e.host) ?? 0) < 1000 && e.progress.bytes < e.progress.total) return;
          lastProgress.set(e.host, now);
          const p = e.progress;
          console.log(`  ${e.host.padEnd(16)} fetching weights ${formatBytes(p.bytes)} / ${formatBytes(p.total)} (${((100 * p.bytes) / Math.max(1, p.total)).toFixed(0)} %, ${formatRate(p.bytesPerSecond)})`);
        } else console.log(`  ${e.host.padEnd(16)} ${e.state} (plan ${e.version})${e.error ? `: ${e.error}` : ""}`);
        break;
      }
      case "serving":
        console.log(`serving plan ${e.version} after ${e.seconds.toFixed(1)} s`);
        break;
      case "lost":
        console.error(`host ${e.host} lost: ${e.reason}; re-planning`);
        break;
      case "recovered":
        console.log(`re-planned (${e.reason}): plan ${e.version} in force after ${e.seconds.toFixed(1)} s; ${e.fresh ? "placed afresh" : `${e.moved} experts placed again`}`);
        break;
      case "error":
        console.error(`error: ${e.message}`);
        break;
      case "stopping":
        console.log(`stopping: ${e.reason}`);
        break;
    }
  };
}

/** Run a dynamic cluster until a signal. */
export async function upDynamic(file: string, f: DynamicUpFlags): Promise<void> {
  const abort = new AbortController();
  let coordinator: Coordinator | undefined;
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (++signals > 1) process.exit(130);
    if (coordinator) void coordinator.stop(`${sig} received`).then(() => process.exit(0));
    else abort.abort();
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, onSignal);
  // the in-process gateway reads its API key from the environment, like a gateway child would
  if (f.apiKey !== undefined) process.env.MOE_API_KEY = f.apiKey;
  // the coordinator's and the in-process gateway's log goes to the run directory, progress to stdout
  const runDir = resolve(f.runDir ?? defaultRunDir(clusterName(loadClusterConfig(file))));
  mkdirSync(join(runDir, RUN_FILES.logs), { recursive: true });
  const log = logFile(runDir, "coordinator");
  const logger = pino({ level: "info", base: { pid: process.pid } }, pino.destination({ dest: log, append: true, mkdir: true }));
  console.log(`log: ${log}`);
  const started = launchDynamic({
    clusterFile: file,
    modelPath: f.model,
    runDir,
    keysDir: f.keys,
    minHosts: f.minHosts,
    ...(f.heartbeatTimeout !== undefined ? { heartbeatTimeoutMs: f.heartbeatTimeout * 1000 } : {}),
    stallTimeoutMs: f.readyTimeout * 1000,
    ...(f.warmupPasses !== undefined ? { warmupPasses: f.warmupPasses } : {}),
    gateway: f.gateway,
    gatewayHost: f.host,
    gatewayPort: f.port,
    signal: abort.signal,
    onEvent: reporter(f.quiet === true),
    logger,
  });
  try {
    coordinator = await started;
  } catch (e) {
    if (!abort.signal.aborted) throw e;
    console.log("stopped before the cluster served.");
    return;
  }
  const rt = coordinator.runtime!;
  console.log(`\ncluster ${rt.cluster} is ready (dynamic, ${rt.dynamic?.nats}): ${rt.stages.length} stages, ${Object.keys(rt.expertHosts).length} expert hosts`);
  const url = coordinator.gatewayUrl;
  if (url) {
    console.log(`gateway: ${url}/v1  (model ${rt.model.name})`);
    console.log(`  curl ${url}/v1/completions -H 'content-type: application/json' \\\n    -d '{"model": "${rt.model.name}", "prompt": "The answer to life", "max_tokens": 16}'`);
  }
  console.log(`  moe status --nats ${rt.dynamic?.nats}`);
  console.log("Ctrl-C stops the cluster (the hosts stay joined, idle).");
}
