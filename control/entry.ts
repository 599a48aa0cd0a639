/**
 * How to start another `moe` process with the same code as this one: from
 * the TypeScript sources (tests, `tsx`) it is `node --import tsx cli/main.ts`,
 * from the build it is `node dist/cli/main.js`. `$MOE_ENTRY` (a built
 * `cli/main.js`) wins over both: the test setup points it at a transpile of
 * the sources, so that child processes do not each load tsx and transpile.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** A command line that runs the `moe` CLI. */
export interface MoeCommand {
  /** The executable (this Node.js). */
  readonly command: string;
  /** Arguments before the sub-command. */
  readonly args: readonly string[];
  /** Package root. */
  readonly root: string;
}

/**
 * V8 flags of every `moe` process started through {@link moeCommand} (`moe up`'s hosts, `moe node`'s
 * children). `--no-memory-reducer`: V8's memory reducer takes a serving process's gaps between messages for
 * idleness and starts full mark-compacts over and over (measured in a `moe up` of local.yaml at concurrency 16:
 * 60–83 mark-compacts in 15 s in one stage process, about 0.1–0.3 ms of GC-thread CPU per token; with the
 * flag ≤ 24, and 14–17 % less CPU per token for the whole cluster: README, Benchmarks). The heap still
 * grows and is collected as allocation demands; only the shrinking on idleness is off.
 * `--no-incremental-marking`: even without the memory reducer, V8's incremental-marking task kept starting
 * full marking cycles in a serving process far below its heap limit (traced: a stage host of local.yaml
 * marking its 16 MB heap every 130–350 ms, "Start (task)" at 16 of 40 MB; 5–18 mark-compacts per process in
 * a 40 s bench run, varying between runs and processes); without incremental marking a mark-compact runs only
 * when the old generation reaches its limit (one per process per run), scavenges stay parallel: 10–20 % less
 * CPU per token for the cluster (README, session 7). A mark-compact then pauses the process in one piece
 * (milliseconds for these heaps of tens of MB: the weights live outside V8's heap).
 */
export const NODE_FLAGS: readonly string[] = ["--no-memory-reducer", "--no-incremental-marking"];

/** The `moe` entry point matching the code that is running now, or `$MOE_ENTRY` when set. */
export function moeCommand(): MoeCommand {
  const entry = process.env.MOE_ENTRY;
  if (entry) return { command: process.execPath, args: [...profileArgs(), resolve(entry)], root: packageRoot(dirname(resolve(entry))) };
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".ts")) {
    const root = resolve(dirname(here), "..");
    const tsx = createRequire(import.meta.url).resolve("tsx");
    return { command: process.execPath, args: [...profileArgs(), "--import", pathToFileURL(tsx).href, join(root, "cli", "main.ts")], root };
  }
  const root = resolve(dirname(here), "..", "..");
  return { command: process.execPath, args: [...profileArgs(), join(root, "dist", "cli", "main.js")], root };
}

/**
 * {@link NODE_FLAGS}, then the flags in `$MOE_NODE_FLAGS` (space-separated, for experiments: V8 flags that
 * NODE_OPTIONS refuses), and with `MOE_CPU_PROF=DIR` in the environment: every `moe` child process started through {@link moeCommand}
 * writes a V8 CPU profile (`--cpu-prof`) into DIR when it exits (Node refuses `--cpu-prof` in NODE_OPTIONS).
 */
function profileArgs(): string[] {
  const dir = process.env.MOE_CPU_PROF;
  const extra = (process.env.MOE_NODE_FLAGS ?? "").split(/\s+/).filter((f) => f.length > 0);
  return dir ? [...NODE_FLAGS, ...extra, "--cpu-prof", `--cpu-prof-dir=${dir}`] : [...NODE_FLAGS, ...extra];
}

/** The nearest folder at or above `dir` holding package.json (`dir` itself when none does). */
function packageRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return d;
    if (dirname(d) === d) return dir;
  }
}
