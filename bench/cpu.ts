/**
 * CPU time of processes, from /proc/<pid>/stat (Linux): user + system
 * seconds, at the kernel's 100 ticks per second. Used to show how much CPU
 * each cluster process spends per generated token.
 */
import { readdirSync, readFileSync } from "node:fs";

/** /proc reports in USER_HZ, 100 on every Linux. */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds of `pid`, or undefined when /proc cannot tell (not Linux, process gone). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // fields after the command name (which may hold spaces) start at ") "
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** CPU seconds of named processes (this one as "bench"), for before/after differences. */
export function cpuSnapshot(procs: readonly { readonly name: string; readonly pid: number }[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of procs) {
    const s = cpuSeconds(p.pid);
    if (s !== undefined) out.set(p.name, s);
  }
  out.set("bench", selfCpuSeconds());
  return out;
}

/** ms of CPU per token per process between two snapshots. */
export function cpuPerToken(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, tokens: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, a] of after) {
    const b = before.get(name);
    if (b !== undefined) out[name] = ((a - b) * 1000) / tokens;
  }
  return out;
}

/** Busy CPU seconds of the whole machine, all cores (/proc/stat: user, nice, system, irq, softirq, steal), or undefined off Linux. */
export function machineBusySeconds(): number | undefined {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0)) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * CPU of one process by thread kind, from /proc/PID/task (Linux), seconds: `main` (the process's own
 * thread), `zmq` (ZeroMQ's I/O threads, "ZMQbg…"), `helpers` (every other thread: V8's platform workers
 * and libuv's pool, which Node 20 leaves unnamed); beside them `sys` (the system part, already in the
 * kinds) and `minflt` (minor page faults, a count). Empty when /proc cannot tell (not Linux, process gone).
 */
export function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const k = tid === String(pid) ? "main" : comm.startsWith("ZMQbg") ? "zmq" : "helpers";
      out[k] = (out[k] ?? 0) + (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
      out.sys = (out.sys ?? 0) + Number(f[12]) / TICKS_PER_SECOND;
      out.minflt = (out.minflt ?? 0) + Number(f[7]);
    } catch {
      // thread gone
    }
  }
  return out;
}

/** The thread kinds of a {@link threadCpu} record summed, seconds (`sys` and `minflt` left out: not kinds). */
export function kindsSeconds(r: Readonly<Record<string, number>>): number {
  return Object.entries(r).reduce((a, [k, v]) => (k === "sys" || k === "minflt" ? a : a + v), 0);
}

/** User + system CPU seconds of this process. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
