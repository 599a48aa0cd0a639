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
import { rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { InvalidArgumentError } from "commander";
import { pino } from "pino";
import { whenParentGone } from "../common/index.js";
import { readRuntime, startNode, type RunningNode } from "../control/node-entry.js";
import type { JoinFlags } from "./node-join.js";

interface NodeFlags extends Partial<Omit<JoinFlags, "logLevel">> {
  runtime?: string;
  process?: string;
  stdinWatch?: boolean;
  pidFile?: string;
  parentPid?: number;
  logLevel: string;
  model?: string;
}

export async function action(f: NodeFlags): Promise<void> {
  if (f.join !== undefined) {
    if (f.runtime !== undefined || f.process !== undefined) throw new InvalidArgumentError("--join (dynamic mode) and --runtime/--process (static mode) exclude each other");
    // dynamic mode (NATS, the agent) loads only here: a static process does not pay for it
    const { joinAction } = await import("./node-join.js");
    return joinAction({ ...f, join: f.join, logLevel: f.logLevel });
  }
  if (f.runtime === undefined || f.process === undefined) throw new InvalidArgumentError("give --runtime FILE --process NAME (a static cluster) or --join nats://HOST:PORT --name NAME (a dynamic one)");
  return runProcess({ ...f, runtime: f.runtime, process: f.process });
}

async function runProcess(f: NodeFlags & { runtime: string; process: string }): Promise<void> {
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
  if (f.pidFile !== undefined) {
    // `moe down` (ssh hosts) signals the pid written here; removed at exit
    const file = resolve(f.pidFile);
    writeFileSync(file, `${process.pid}\n`);
    process.on("exit", () => rmSync(file, { force: true }));
  }
  if (f.stdinWatch === true && f.parentPid === undefined) {
    // started over ssh: the session's end (launcher gone, Ctrl-C) closes stdin
    process.stdin.on("end", () => void shutdown("stdin closed (ssh session ended)"));
    process.stdin.on("error", () => void shutdown("stdin failed (ssh session ended)"));
    process.stdin.resume();
  }
  if (f.parentPid !== undefined) {
    const parent = f.parentPid;
    whenParentGone(parent, () => void shutdown(`parent ${parent} is gone`));
    process.stdin.on("end", () => void shutdown("stdin closed (parent gone)"));
    process.stdin.on("error", () => void shutdown("stdin failed (parent gone)"));
    process.stdin.resume();
  }
  try {
    const read = readRuntime(f.runtime);
    // on another machine the model may live elsewhere: --model points at this host's copy
    // (a part from `moe model slice` works too; it replaces the runtime's parts)
    const runtime = f.model !== undefined ? { ...read, model: { ...read.model, path: resolve(f.model), parts: undefined } } : read;
    // the launcher shows it: the gateway's readiness waits for its warm-up
    const onWarmup = (passes: number): void => void process.stdout.write(JSON.stringify({ event: "warming", process: f.process, passes }) + "\n");
    node = await startNode({ runtime, process: f.process, logger, onWarmup });
  } catch (e) {
    logger.error({ err: (e as Error).message, stack: (e as Error).stack }, "start-up failed");
    process.stdout.write(JSON.stringify({ event: "error", process: f.process, message: (e as Error).message }) + "\n");
    process.exit(1);
  }
  if (exiting) return;
  process.stdout.write(JSON.stringify({ event: "ready", process: f.process, pid: process.pid, endpoint: node.endpoint, control: node.control, ...(node.warmup ? { warmup: node.warmup } : {}) }) + "\n");
}
