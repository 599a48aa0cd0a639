/**
 * A `nats-server` child (Debian package `nats-server`, ≥ 2.9) on one address
 * and port, for tests, benchmarks and a quick local cluster. Production
 * clusters run their own NATS server; `moe` only connects to it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { ControlError } from "./errors.js";

/** A running nats-server. */
export interface NatsServerProcess {
  /** `nats://host:port`. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Stop it (SIGTERM, then SIGKILL after 3 s); resolves once it exited. */
  stop(): Promise<void>;
}

/** Path of the nats-server binary, or undefined when it is not installed. */
export function natsServerBinary(): string | undefined {
  for (const c of [process.env.NATS_SERVER, "nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server"])
    if (c && spawnSync(c, ["--version"], { stdio: "ignore" }).status === 0) return c;
  return undefined;
}

/**
 * Start `nats-server -a host -p port` (optionally through `wrap`, e.g. `ip netns exec NS`) and wait
 * until it accepts clients. @throws ControlError when it is missing or does not start within 10 s
 */
export async function startNatsServer(o: { host: string; port: number; wrap?: readonly string[]; args?: readonly string[] }): Promise<NatsServerProcess> {
  const bin = natsServerBinary();
  if (!bin) throw new ControlError("NATS_SERVER_MISSING", "nats-server is not installed", { fix: "apt-get install nats-server (or set NATS_SERVER to its path)" });
  const argv = [...(o.wrap ?? []), bin, "-a", o.host, "-p", String(o.port), ...(o.args ?? [])];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const log: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ControlError("NATS_SERVER_START", `nats-server did not start within 10 s: ${log.slice(-5).join(" | ")}`)), 10_000);
    const lines = createInterface({ input: child.stderr! });
    lines.on("line", (l) => {
      log.push(l);
      if (log.length > 50) log.shift();
      if (/Server is ready/.test(l)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new ControlError("NATS_SERVER_START", `nats-server exited at start: ${log.slice(-5).join(" | ")}`));
    });
  });
  child.stderr!.resume();
  return {
    url: `nats://${o.host.includes(":") ? `[${o.host}]` : o.host}:${o.port}`,
    port: o.port,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}
