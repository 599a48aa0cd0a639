/**
 * `moe up CLUSTER.yaml`: plan the cluster (its `placement:` or the planner),
 * start every process placed on this machine, wait until all are ready,
 * print where the gateway listens, and run until Ctrl-C (clean stop, exit 0)
 * or until a process dies (everything stops, exit 1).
 */
import { InvalidArgumentError } from "commander";
import { pino } from "pino";
import { describeExit, launch, StartupError, type LaunchEvent, type RunningCluster } from "../control/index.js";
import { loadClusterConfig } from "../config/index.js";
import { formatBytes, formatPlan } from "../planner/index.js";
import { upDynamic } from "./up-dynamic.js";

interface UpFlags {
  model?: string;
  parts?: string;
  port?: number;
  gateway: boolean;
  runDir?: string;
  keys?: string;
  keepGoing?: boolean;
  restart?: number;
  plan?: string;
  apiKey?: string;
  readyTimeout: number;
  warmupPasses?: number;
  quiet?: boolean;
  host?: string;
  minHosts?: number;
  heartbeatTimeout?: number;
}

function report(e: LaunchEvent, quiet: boolean): void {
  switch (e.kind) {
    case "plan":
      if (!quiet) console.log(formatPlan(e.plan) + "\n");
      console.log(`run directory: ${e.runtime.runDir}`);
      break;
    case "starting":
      console.log(`  starting ${e.process.name.padEnd(16)} ${e.process.role.padEnd(7)} pid ${e.pid}  log ${e.log}`);
      break;
    case "waiting-remote":
      console.log(`  waiting for ${e.process.name} on ${e.process.host}: run \`moe node --runtime runtime.json --process ${e.process.name}\` there`);
      break;
    case "warming":
      console.log(`  warming  ${e.process.name.padEnd(16)} ${e.passes} synthetic passes through the cluster before it accepts requests (--warmup-passes)`);
      break;
    case "ready":
      console.log(`  ready    ${e.process.name.padEnd(16)} ${e.endpoint}  (${e.seconds.toFixed(1)} s${e.warmup ? `; warmed up: ${e.warmup.passes} passes of ${e.warmup.sequences} requests in ${e.warmup.seconds.toFixed(1)} s` : ""})`);
      break;
    case "exit":
      if (!e.expected) console.error(`process ${e.process.name} exited (${describeExit(e.exit)})`);
      break;
    case "restarting":
      console.log(`  restart  ${e.process.name.padEnd(16)} pid ${e.pid} (restart ${e.attempt})`);
      break;
    case "restart-failed":
      console.error(`process ${e.process.name} could not be restarted: ${e.error}`);
      break;
    case "stopping":
      console.log(`stopping the cluster: ${e.reason}`);
      break;
    case "pushing": {
      const p = e.progress;
      const now = Date.now();
      if (now - (lastPush.get(p.host) ?? 0) < 1000 && p.bytes < p.total) break;
      lastPush.set(p.host, now);
      console.log(`  sending  ${p.host.padEnd(16)} ${p.file} ${formatBytes(p.bytes)} / ${formatBytes(p.total)} over ssh`);
      break;
    }
    case "pushed":
      console.log(`  sent     ${e.host.padEnd(16)} ${formatBytes(e.bytes)} over ssh in ${e.seconds.toFixed(1)} s (model files, keys, runtime.json)`);
      break;
  }
}

const lastPush = new Map<string, number>();

export async function action(file: string, f: UpFlags): Promise<void> {
  if (loadClusterConfig(file).runtime.nats !== undefined) {
    for (const [flag, set] of [["--plan", f.plan !== undefined], ["--restart", f.restart !== undefined], ["--keep-going", f.keepGoing === true]] as const)
      if (set) throw new InvalidArgumentError(`${flag} is for static clusters; ${file} has nats: (dynamic mode re-plans by itself when a host is lost)`);
    if (f.parts !== undefined) throw new InvalidArgumentError(`--parts is for static clusters; ${file} has nats: (dynamic mode slices each host's part from its plan and sends it)`);
    return upDynamic(file, f);
  }
  for (const [flag, set] of [["--host", f.host !== undefined], ["--min-hosts", f.minHosts !== undefined], ["--heartbeat-timeout", f.heartbeatTimeout !== undefined]] as const)
    if (set) throw new InvalidArgumentError(`${flag} is for dynamic clusters (nats: in the file)`);
  const abort = new AbortController();
  let cluster: RunningCluster | undefined;
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (++signals > 1) {
      console.error(`${sig} again: killing every process now`);
      process.exit(130); // the launcher's exit hook SIGKILLs the children
    }
    if (cluster) void cluster.stop(`${sig} received`);
    else abort.abort();
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, onSignal);
  const logger = pino({ level: "warn" }, pino.destination(2));
  try {
    cluster = await launch({
      clusterFile: file,
      modelPath: f.model,
      ...(f.parts !== undefined ? { partsDir: f.parts } : {}),
      gateway: f.gateway,
      gatewayPort: f.port,
      runDir: f.runDir,
      keysDir: f.keys,
      keepGoing: f.keepGoing,
      ...(f.plan !== undefined ? { planFile: f.plan } : {}),
      ...(f.apiKey !== undefined ? { apiKey: f.apiKey } : {}),
      ...(f.restart !== undefined ? { restart: { maxRestarts: f.restart } } : {}),
      readyTimeoutMs: f.readyTimeout * 1000,
      ...(f.warmupPasses !== undefined ? { warmupPasses: f.warmupPasses } : {}),
      signal: abort.signal,
      onEvent: (e) => report(e, f.quiet === true),
      logger,
    });
  } catch (e) {
    if (e instanceof StartupError && e.logTail) console.error(`--- last lines of its log ---\n${e.logTail}\n---`);
    throw e;
  }
  const rt = cluster.runtime;
  console.log(`\ncluster ${rt.cluster} is ready: ${cluster.states().length} local processes, ${rt.stages.length} stages, ${Object.keys(rt.expertHosts).length} expert hosts, wire ${rt.wireDtype}${rt.curve ? ", CURVE" : ""}`);
  if (cluster.gatewayUrl) {
    console.log(`gateway: ${cluster.gatewayUrl}/v1  (model ${rt.model.name})`);
    console.log(`  curl ${cluster.gatewayUrl}/v1/completions -H 'content-type: application/json' \\\n    -d '{"model": "${rt.model.name}", "prompt": "The answer to life", "max_tokens": 16}'`);
  }
  const where = f.runDir !== undefined ? `--run-dir ${f.runDir}` : `--cluster ${file}`;
  console.log(`  moe generate ${where} "The answer to life"`);
  console.log(`  moe status ${where}`);
  console.log("Ctrl-C stops every process.");
  const end = await cluster.exited;
  if (end.reason === "child-exit") {
    console.error(`moe up: ${end.process} died (${describeExit(end.exit!)}); stopped the cluster. Log: ${rt.runDir}/logs/${end.process}.log`);
    process.exitCode = 1;
  } else console.log("stopped.");
}

