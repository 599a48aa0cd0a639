/**
 * `moe up CLUSTER.yaml`: plan the cluster (its `placement:` or the planner),
 * start every process placed on this machine, wait until all are ready,
 * print where the gateway listens, and run until Ctrl-C (clean stop, exit 0)
 * or until a process dies (everything stops, exit 1).
 */
import { InvalidArgumentError, type Command } from "commander";
import { pino } from "pino";
import { describeExit, launch, StartupError, type LaunchEvent, type RunningCluster } from "../control/index.js";
import { loadClusterConfig } from "../config/index.js";
import { formatBytes, formatPlan } from "../planner/index.js";
import { parseIntOption } from "./options.js";
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
    case "ready":
      console.log(`  ready    ${e.process.name.padEnd(16)} ${e.endpoint}  (${e.seconds.toFixed(1)} s)`);
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

async function action(file: string, f: UpFlags): Promise<void> {
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

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port must be an integer in [0, 65535], got '${v}'`);
  return n;
}

/** Attach `moe up` to the program. */
export function register(program: Command): void {
  program
    .command("up")
    .description("start every process of a cluster placed on this machine; Ctrl-C stops them all")
    .argument("<cluster>", "cluster YAML (e.g. configs/clusters/local.yaml)")
    .option("--model <path>", "model directory or .gguf file (default: the file's model:, else the tiny model, created on first use)")
    .option("--port <n>", "gateway HTTP port (0 = any free port; default: the config's, else 8000)", port)
    .option("--no-gateway", "do not start the HTTP gateway")
    .option("--api-key <key>", "require 'Authorization: Bearer <key>' at the gateway (all endpoints but /health); default: $MOE_API_KEY")
    .option("--parts <dir>", "static mode: per-host model parts from `moe model slice` (<dir>/<host>.gguf); each host opens (and an ssh host is sent) only its part. Dynamic mode slices them itself")
    .option("--plan <file>", "run this plan.json from `moe plan --out` (e.g. re-planned with --expert-load) instead of the file's placement")
    .option("--run-dir <dir>", "where runtime.json, plan.json, expert-load.json and logs/ go (default .moe/run/<cluster>)")
    .option("--keys <dir>", "CURVE keys from `moe keys` for `curve: true` (default <run-dir>/keys, generated once)")
    .option("--keep-going", "keep serving when a process dies (replicas cover it) instead of stopping everything")
    .option("--restart <n>", "restart a process that dies, up to n times a minute (its KV caches are lost); then --keep-going or stop", parseIntOption("--restart", 1))
    .option("--ready-timeout <s>", "seconds to wait for every process to be ready (dynamic mode: without any progress)", parseIntOption("--ready-timeout", 1), 120)
    .option("--host <address>", "dynamic mode: address the gateway binds (default 127.0.0.1; 0.0.0.0 for every interface)")
    .option("--min-hosts <n>", "dynamic mode: hosts to wait for before planning (default: the file's min_hosts)", parseIntOption("--min-hosts", 1))
    .option("--heartbeat-timeout <s>", "dynamic mode: a host silent this long is lost and the cluster re-planned (default 5)", parseIntOption("--heartbeat-timeout", 1))
    .option("--quiet", "do not print the plan table")
    .addHelpText(
      "after",
      `
Examples:
  moe up configs/clusters/local.yaml
  moe up configs/clusters/local.yaml --port 8080 --keep-going
  moe up configs/clusters/local.yaml --restart 3
  moe plan --cluster configs/clusters/local.yaml --replan --expert-load .moe/run/local/expert-load.json --out plan.json
  moe up configs/clusters/local.yaml --plan plan.json
  moe status --cluster configs/clusters/local.yaml
  moe up configs/clusters/dynamic.yaml --host 0.0.0.0     # nats: in the file: hosts join with \`moe node --join\``,
    )
    .action(action);
}
