/**
 * `moe node --join nats://HOST:PORT --name NAME …`: join a dynamic cluster
 * (control/agent.ts). Prints one line per event on stdout (JSON lines with
 * `--json`), logs (pino) on stderr; SIGTERM/SIGINT/SIGHUP leave the cluster
 * cleanly (the coordinator re-plans without this host at once).
 */
import { availableParallelism, networkInterfaces, totalmem } from "node:os";
import { resolve } from "node:path";
import { InvalidArgumentError } from "commander";
import { pino } from "pino";
import { NodeAgent, type AgentEvent } from "../control/index.js";
import { formatBytes, formatRate } from "../planner/index.js";

/** Flags of `moe node` in join mode. */
export interface JoinFlags {
  join: string;
  name?: string;
  address?: string;
  device?: string;
  memory?: string;
  memoryBandwidth?: string;
  compute?: string;
  threads?: number;
  roles?: string;
  dir?: string;
  keys?: string;
  basePort?: number;
  heartbeat?: number;
  json?: boolean;
  logLevel: string;
}

/** This machine's first non-loopback IPv4 address, else 127.0.0.1. */
function defaultAddress(): string {
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) if (i.family === "IPv4" && !i.internal) return i.address;
  return "127.0.0.1";
}

function print(e: AgentEvent, json: boolean, name: string): void {
  if (json) {
    console.log(JSON.stringify({ ...e, host: name }));
    return;
  }
  switch (e.kind) {
    case "joined":
      console.log(`${name}: joined ${e.nats}; offering ports ${e.basePort}…; waiting for a plan`);
      break;
    case "plan":
      console.log(`${name}: plan ${e.version} (${e.reason}): ${e.processes.length ? e.processes.join(", ") : "no role (standby)"}`);
      break;
    case "fetching":
      break; // the throttled line below
    case "fetched":
      console.log(`${name}: received ${formatBytes(e.bytes)} in ${e.seconds.toFixed(1)} s (${formatRate(e.bytes / Math.max(e.seconds, 1e-3))})${e.resumed ? `, resumed after ${formatBytes(e.resumed)}` : ""}`);
      break;
    case "state":
      console.log(`${name}: ${e.state} (plan ${e.version})${e.error ? `: ${e.error}` : ""}`);
      break;
  }
}

/** Run the agent until a signal. */
export async function joinAction(f: JoinFlags): Promise<void> {
  if (!f.name) throw new InvalidArgumentError("--join needs --name NAME (this host's name in the cluster)");
  if (f.device !== undefined && (f.memory !== undefined || f.memoryBandwidth !== undefined)) throw new InvalidArgumentError("give either --device or --memory/--memory-bandwidth, not both");
  const threads = f.threads ?? availableParallelism();
  const guessed = f.device === undefined && f.memory === undefined;
  const capabilities = {
    threads,
    ...(f.device !== undefined
      ? { device: f.device }
      : {
          memory: f.memory ?? totalmem(),
          memory_bandwidth: f.memoryBandwidth ?? "20GB/s",
          compute: f.compute ?? 50e9 * threads,
        }),
    ...(f.roles ? { roles: f.roles.split(",").map((r) => r.trim()) } : {}),
  };
  const logger = pino({ level: f.logLevel, base: { pid: process.pid, host: f.name } }, pino.destination({ dest: 2, sync: true }));
  if (guessed && !f.json) console.log(`${f.name}: no --device or --memory given: announcing ${formatBytes(totalmem())} memory, 20 GB/s, ${threads} threads (pass them for a better plan)`);
  let last = 0;
  const agent = await NodeAgent.join({
    nats: f.join,
    name: f.name,
    address: f.address ?? defaultAddress(),
    capabilities,
    dir: resolve(f.dir ?? `.moe/node/${f.name}`),
    ...(f.keys ? { keysDir: resolve(f.keys) } : {}),
    ...(f.basePort ? { basePort: f.basePort } : {}),
    ...(f.heartbeat ? { heartbeatMs: f.heartbeat } : {}),
    logger,
    onEvent: (e) => {
      if (e.kind === "fetching") {
        const now = Date.now();
        if (now - last < 1000 && e.progress.bytes < e.progress.total) return;
        last = now;
        const p = e.progress;
        if (!f.json) {
          console.log(`${f.name}: fetching ${p.file} ${formatBytes(p.bytes)} / ${formatBytes(p.total)} (${((100 * p.bytes) / Math.max(1, p.total)).toFixed(0)} %, ${formatRate(p.bytesPerSecond)})`);
          return;
        }
      }
      print(e, f.json === true, f.name!);
    },
  });
  let exiting = false;
  const shutdown = async (why: string): Promise<void> => {
    if (exiting) return;
    exiting = true;
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    try {
      await agent.close(why);
    } catch (e) {
      logger.error({ err: (e as Error).message }, "close failed");
      process.exit(1);
    }
    process.exit(0);
  };
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, () => void shutdown(sig));
}
