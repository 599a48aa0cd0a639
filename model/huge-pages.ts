/**
 * Huge pages for large weights. `moe generate`, `moe serve`, `moe bench` and `npm run bench` on weights of
 * {@link HUGE_PAGE_MIN_WEIGHT_BYTES} or more run the command again, once, in a child process whose glibc
 * `malloc` uses transparent huge pages ({@link hugePageEnv}; glibc reads it only when a process starts);
 * `moe up` starts its hosts with that environment. Here so that cli/ and bench/ (which must not import
 * cli/) share one {@link reexecWithHugePages}. Loading Grok-1-width f32 weights took
 * 45–57 s with the default `malloc` and about 6 s with huge pages (README, full width).
 *
 * The parent only waits: the child inherits stdin/stdout/stderr, the parent forwards SIGTERM and SIGHUP
 * (and SIGINT/SIGQUIT when no terminal is attached: a terminal's Ctrl-C already reaches the whole
 * foreground process group, child included, and a second SIGINT would cut its clean shutdown short),
 * and ends as the child ended: the same exit code, or killed by the same signal. No re-exec when
 * GLIBC_TUNABLES is already set, in the child itself (`MOE_HUGE_PAGES_CHILD=<parent pid>`; it stops
 * when that parent is gone), with `--no-huge-pages`
 * or `MOE_HUGE_PAGES=0`, off Linux, or for weights under {@link HUGE_PAGE_MIN_WEIGHT_BYTES}
 * (`MOE_HUGE_PAGES_MIN_BYTES` overrides the threshold).
 */
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { whenParentGone } from "../common/index.js";

/** Weight files of at least this many bytes get {@link hugePageEnv} in the processes that serve them. */
export const HUGE_PAGE_MIN_WEIGHT_BYTES = 2 ** 30;

/**
 * The environment for a process that loads large weights: glibc's `malloc` asked for transparent huge
 * pages (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, glibc ≥ 2.35; ignored elsewhere). Loading a weight
 * buffer then takes one page fault per 2 MB instead of per 4 KB: one full-width Grok-1 expert (604 M
 * weights) was built in 14.7 s instead of 38.9 s (754,745 page faults → 23,665), the same memory.
 * An existing GLIBC_TUNABLES is kept as it is. Only a new process can take it (glibc reads it at start).
 */
export function hugePageEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (process.platform !== "linux" || env.GLIBC_TUNABLES !== undefined) return env;
  return { ...env, GLIBC_TUNABLES: "glibc.malloc.hugetlb=1" };
}

/** Bytes of the weights at `path`: a file's size, or the sum of a directory's .gguf/.safetensors files (0 when unreadable). */
export function weightFileBytes(path: string): number {
  try {
    const st = statSync(path);
    if (!st.isDirectory()) return st.size;
    return readdirSync(path)
      .filter((f) => /\.(gguf|safetensors)$/.test(f))
      .reduce((a, f) => a + statSync(join(path, f)).size, 0);
  } catch {
    return 0;
  }
}

/** Set in the re-executed child to the parent's pid; a process that has it never re-executes. */
export const HUGE_PAGES_CHILD_ENV = "MOE_HUGE_PAGES_CHILD";

/** Signals the parent passes on to the child (SIGINT/SIGQUIT only without a terminal, see the module comment). */
const ALWAYS = ["SIGTERM", "SIGHUP"] as const;
const NO_TTY = ["SIGINT", "SIGQUIT"] as const;

/** Whether a command serving the weights at `modelPath` should re-execute itself with huge pages. */
export function wantsHugePageReexec(modelPath: string, enabled: boolean, env: NodeJS.ProcessEnv = process.env, platform = process.platform): boolean {
  if (!enabled || platform !== "linux" || env.GLIBC_TUNABLES !== undefined || env[HUGE_PAGES_CHILD_ENV] !== undefined) return false;
  if (env.MOE_HUGE_PAGES !== undefined && /^(0|false|off|no)$/i.test(env.MOE_HUGE_PAGES)) return false;
  const min = env.MOE_HUGE_PAGES_MIN_BYTES !== undefined && env.MOE_HUGE_PAGES_MIN_BYTES !== "" ? Number(env.MOE_HUGE_PAGES_MIN_BYTES) : HUGE_PAGE_MIN_WEIGHT_BYTES;
  return Number.isFinite(min) && weightFileBytes(modelPath) >= min;
}

/**
 * When {@link wantsHugePageReexec}, run this same command line in a child with huge pages and end this
 * process the way the child ended (never returns then). Returns false when no re-exec is wanted or the
 * child could not be started (the command then runs here, as before).
 */
export async function reexecWithHugePages(modelPath: string, enabled: boolean): Promise<boolean> {
  watchParent();
  if (!wantsHugePageReexec(modelPath, enabled)) return false;
  const env = { ...hugePageEnv(process.env), [HUGE_PAGES_CHILD_ENV]: String(process.pid) };
  const tty = process.stdin.isTTY === true || process.stdout.isTTY === true || process.stderr.isTTY === true;
  const forwarded: NodeJS.Signals[] = tty ? [...ALWAYS] : [...ALWAYS, ...NO_TTY];
  // handlers before the spawn: a signal meanwhile is passed on once the child runs (never lost, never
  // ending this process with the child left behind)
  let running = false;
  const pending: NodeJS.Signals[] = [];
  const handlers = forwarded.map((sig) => [sig, () => (running ? void child.kill(sig) : pending.push(sig))] as const);
  // with a terminal, SIGINT/SIGQUIT reach the child directly: the parent just keeps waiting for it
  const ignore = () => {};
  for (const [sig, h] of handlers) process.on(sig, h);
  if (tty) for (const sig of NO_TTY) process.on(sig, ignore);
  const detach = () => {
    for (const [sig, h] of handlers) process.off(sig, h);
    for (const sig of NO_TTY) process.off(sig, ignore);
  };
  // the same node flags (e.g. --import tsx), except a debugger's: its port is this process's
  const execArgv = process.execArgv.filter((a) => !/^--inspect/.test(a));
  const child = spawn(process.execPath, [...execArgv, ...process.argv.slice(1)], { stdio: "inherit", env });
  running = await new Promise<boolean>((resolve) => {
    child.once("spawn", () => resolve(true));
    child.once("error", () => resolve(false));
  });
  if (!running) {
    detach();
    for (const sig of pending) process.kill(process.pid, sig);
    return false;
  }
  for (const sig of pending.splice(0)) child.kill(sig);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once("exit", (c, s) => resolve([c, s])));
  detach();
  if (signal !== null) {
    process.kill(process.pid, signal);
    // a signal whose default action does not end the process: end with the shell's code for it
    await new Promise((r) => setTimeout(r, 1000));
    process.exit(128 + (constants.signals[signal] ?? 0));
  }
  process.exit(code ?? 1);
}

/**
 * In the re-run child: stop (SIGTERM to itself, the command's clean shutdown) when the parent is gone —
 * killed with SIGKILL it could not pass anything on, and the child must not outlive it.
 */
function watchParent(): void {
  const parent = Number(process.env[HUGE_PAGES_CHILD_ENV]);
  if (!Number.isInteger(parent) || parent <= 1) return;
  whenParentGone(parent, () => process.kill(process.pid, "SIGTERM"));
}
