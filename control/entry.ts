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
 * `MOE_CPU_PROF=DIR` in the environment: every `moe` child process started through {@link moeCommand}
 * writes a V8 CPU profile (`--cpu-prof`) into DIR when it exits (Node refuses `--cpu-prof` in NODE_OPTIONS).
 */
function profileArgs(): string[] {
  const dir = process.env.MOE_CPU_PROF;
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}

/** The nearest folder at or above `dir` holding package.json (`dir` itself when none does). */
function packageRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return d;
    if (dirname(d) === d) return dir;
  }
}
