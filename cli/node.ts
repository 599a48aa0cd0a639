/**
 * `moe node --runtime FILE --process NAME`: run one process of a cluster
 * (stage host with its router, expert host, or gateway) from the runtime.json
 * that `moe up` wrote — what the launcher starts for every local process, and
 * what systemd/Kubernetes/Slurm start on other machines.
 *
 * Readiness: once it serves, it prints ONE line of JSON on stdout,
 * `{"event":"ready","process":NAME,"pid":PID,"endpoint":DATA_OR_URL,"control":CONTROL}`,
 * and answers `ping` on its control endpoint (`moe status`). A start-up
 * failure prints `{"event":"error","process":NAME,"message":...}` and exits 1.
 * Logs (pino JSON) go to stderr. SIGTERM/SIGINT/SIGHUP close every socket,
 * session and file, then exit 0. With `--parent-pid`, it also exits when
 * stdin closes or its parent is gone (the launcher died).
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { pino } from "pino";
import { readRuntime, startNode, type RunningNode } from "../control/index.js";
import { parseIntOption } from "./options.js";

interface NodeFlags {
  runtime: string;
  process: string;
  parentPid?: number;
  logLevel: string;
  model?: string;
}

async function action(f: NodeFlags): Promise<void> {
  const logger = pino({ level: f.logLevel, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
  let node: RunningNode | undefined;
  let exiting = false;
  const shutdown = async (why: string): Promise<void> => {
    if (exiting) return;
    exiting = true;
    logger.info({ why }, "shutting down");
    const force = setTimeout(() => {
      logger.error("close did not finish within 10 s; exiting");
      process.exit(1);
    }, 10_000);
    force.unref();
    try {
      await node?.close();
    } catch (e) {
      logger.error({ err: (e as Error).message }, "close failed");
      process.exit(1);
    }
    process.exit(0);
  };
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, () => void shutdown(sig));
  if (f.parentPid !== undefined) {
    const parent = f.parentPid;
    setInterval(() => {
      if (process.ppid !== parent) void shutdown(`parent ${parent} is gone`);
    }, 500).unref();
    process.stdin.on("end", () => void shutdown("stdin closed (parent gone)"));
    process.stdin.on("error", () => void shutdown("stdin failed (parent gone)"));
    process.stdin.resume();
  }
  try {
    const read = readRuntime(f.runtime);
    // on another machine the model may live elsewhere: --model points at this host's copy
    // (a part from `moe model slice` works too; it replaces the runtime's parts)
    const runtime = f.model !== undefined ? { ...read, model: { ...read.model, path: resolve(f.model), parts: undefined } } : read;
    node = await startNode({ runtime, process: f.process, logger });
  } catch (e) {
    logger.error({ err: (e as Error).message, stack: (e as Error).stack }, "start-up failed");
    process.stdout.write(JSON.stringify({ event: "error", process: f.process, message: (e as Error).message }) + "\n");
    process.exit(1);
  }
  if (exiting) return;
  process.stdout.write(JSON.stringify({ event: "ready", process: f.process, pid: process.pid, endpoint: node.endpoint, control: node.control }) + "\n");
}

/** Attach `moe node` to the program. */
export function register(program: Command): void {
  program
    .command("node")
    .description("run one process of a cluster (stage host + router, expert host, or gateway) from runtime.json")
    .requiredOption("--runtime <file>", "runtime.json written by `moe up` (or the run directory holding it)")
    .requiredOption("--process <name>", "process name in runtime.json (`moe status` lists them)")
    .option("--parent-pid <pid>", "exit when this process is gone or stdin closes (set by `moe up`)", parseIntOption("--parent-pid", 1))
    .option("--model <path>", "this host's copy of the cluster's model, or its part from `moe model slice` (default: the path in runtime.json)")
    .option("--log-level <level>", "pino log level (stderr)", "info")
    .addHelpText(
      "after",
      `
Prints {"event":"ready",...} on stdout once it serves; SIGTERM stops it cleanly.
Example (a host of configs/clusters/local.yaml started by hand):
  moe node --runtime .moe/run/local/runtime.json --process expert1`,
    )
    .action(action);
}
