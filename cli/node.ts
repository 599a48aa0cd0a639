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
import { InvalidArgumentError, type Command } from "commander";
import { pino } from "pino";
import { readRuntime, startNode, type RunningNode } from "../control/index.js";
import { joinAction, type JoinFlags } from "./node-join.js";
import { parseIntOption } from "./options.js";

interface NodeFlags extends Partial<Omit<JoinFlags, "logLevel">> {
  runtime?: string;
  process?: string;
  stdinWatch?: boolean;
  pidFile?: string;
  parentPid?: number;
  logLevel: string;
  model?: string;
}

async function action(f: NodeFlags): Promise<void> {
  if (f.join !== undefined) {
    if (f.runtime !== undefined || f.process !== undefined) throw new InvalidArgumentError("--join (dynamic mode) and --runtime/--process (static mode) exclude each other");
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
    .description("run one process of a static cluster from runtime.json, or join a dynamic cluster over NATS (--join)")
    .option("--runtime <file>", "static: runtime.json written by `moe up` (or the run directory holding it)")
    .option("--process <name>", "static: process name in runtime.json (`moe status` lists them)")
    .option("--parent-pid <pid>", "static: exit when this process is gone or stdin closes (set by `moe up`)", parseIntOption("--parent-pid", 1))
    .option("--model <path>", "static: this host's copy of the cluster's model, or its part from `moe model slice` (default: the path in runtime.json)")
    .option("--stdin-watch", "static: exit when stdin closes (set by `moe up` for hosts started over ssh)")
    .option("--pid-file <file>", "static: write this process's pid here (removed at exit; `moe down` uses it)")
    .option("--join <url>", "dynamic: join the cluster whose coordinator (`moe up` with nats:) uses this NATS server, e.g. nats://10.0.0.1:4222")
    .option("--name <name>", "dynamic: this host's name in the cluster (unique)")
    .option("--address <ip>", "dynamic: address the other hosts reach this one at (default: its first non-loopback IPv4)")
    .option("--device <kind>", "dynamic: catalogue device this host is (`moe plan --devices` lists them), e.g. h100-80gb, cpu-2s")
    .option("--memory <size>", "dynamic: memory for the model, e.g. 64GiB (instead of --device)")
    .option("--memory-bandwidth <rate>", "dynamic: memory bandwidth, e.g. 100GB/s (with --memory)")
    .option("--compute <flops>", "dynamic: peak compute, e.g. 2TFLOP/s (with --memory; default 50 GFLOP/s per thread)")
    .option("--threads <n>", "dynamic: onnxruntime threads per process (default: this host's cores)", parseIntOption("--threads", 1))
    .option("--roles <list>", "dynamic: roles this host may take, comma-separated (stage,expert,router; default all)")
    .option("--dir <dir>", "dynamic: working directory: this host's parts of the model (<model>.parts/), runtime.json (default .moe/node/<name>)")
    .option("--keys <dir>", "dynamic: the cluster's CURVE keys (`moe keys --out DIR`, copied here) for `curve: true`")
    .option("--base-port <port>", "dynamic: first of 8 consecutive ports offered to the plan (default: a free range)", parseIntOption("--base-port", 1))
    .option("--heartbeat <ms>", "dynamic: heartbeat period (default 1000)", parseIntOption("--heartbeat", 50))
    .option("--json", "dynamic: print events as JSON lines")
    .option("--log-level <level>", "pino log level (stderr)", "info")
    .addHelpText(
      "after",
      `
Static: prints {"event":"ready",...} on stdout once it serves; SIGTERM stops it cleanly.
Dynamic: holds no role until the coordinator's plan gives it one; fetches the part of the model the plan gives it
(only what its --dir lacks).
Examples:
  moe node --runtime .moe/run/local/runtime.json --process expert1
  moe node --join nats://10.0.0.1:4222 --name gpu-a --device h100-80gb --dir /var/lib/moe
  moe node --join nats://10.0.0.1:4222 --name cpu-b --memory 64GiB --memory-bandwidth 80GB/s --threads 16`,
    )
    .action(action);
}
