/**
 * `moe down CLUSTER.yaml`: stop a cluster started by `moe up` — its launcher
 * (which stops every local process and, for hosts with `ssh:`, the remote
 * ones) and then, over ssh, any process still recorded on an ssh host (a
 * launcher killed with SIGKILL leaves those). A dynamic cluster's
 * coordinator stops and its hosts go idle (they stay joined).
 */
import { readFileSync } from "node:fs";
import { defaultRunDir, readRuntime, stopOnSshHost, sshHosts, clusterName } from "../control/index.js";
import { loadClusterConfig } from "../config/index.js";

interface DownFlags {
  runDir?: string;
  timeout: number;
}

/** Whether `pid` runs (a zombie, exited but not yet reaped by its parent, does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

export async function action(file: string, f: DownFlags): Promise<void> {
  const cluster = loadClusterConfig(file);
  const runDir = f.runDir ?? defaultRunDir(clusterName(cluster));
  let runtime;
  try {
    runtime = readRuntime(runDir);
  } catch {
    runtime = undefined;
  }
  const pid = runtime?.launcherPid;
  if (pid !== undefined && alive(pid)) {
    process.kill(pid, "SIGTERM");
    const end = Date.now() + f.timeout * 1000;
    while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    if (alive(pid)) {
      console.error(`the launcher (pid ${pid}) did not stop within ${f.timeout} s; killing it`);
      process.kill(pid, "SIGKILL");
    } else console.log(`stopped the launcher (pid ${pid}) of ${cluster.name ?? file}`);
  } else console.log(`no launcher of ${cluster.name ?? file} is running here${runtime ? "" : ` (no runtime in ${runDir})`}`);
  // whatever an ssh host still runs (a launcher that died without stopping them)
  const hosts = runtime ? sshHosts(cluster.runtime, runtime) : new Map();
  for (const [host, h] of hosts) {
    const out = (await stopOnSshHost(host, h)).trim();
    console.log(out ? out.split("\n").map((l) => `${host}: ${l}`).join("\n") : `${host}: nothing running`);
  }
}
