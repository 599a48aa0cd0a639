/**
 * Node arguments that run the `moe` CLI on the current sources, for tests that
 * spawn it themselves: the transpiled tree of test/global-setup.ts
 * (`$MOE_ENTRY`) when the run has one, else `--import tsx cli/main.ts`.
 * Usage: `spawn(process.execPath, [...MOE_CLI, "plan", ...])`.
 */
import { basename, dirname, extname, join } from "node:path";
import { moeCommand } from "../control/index.js";

export const MOE_CLI: readonly string[] = moeCommand().args;

/**
 * Node arguments that run `npm run bench` (bench/main) on the same sources as {@link MOE_CLI}: its entry
 * `…/cli/main.{js,ts}` becomes `…/bench/main.{js,ts}`.
 */
export const BENCH_MAIN: readonly string[] = (() => {
  const entry = MOE_CLI[MOE_CLI.length - 1]!;
  if (basename(dirname(entry)) !== "cli") throw new Error(`test/moe-cli.ts: the moe entry ${entry} is not cli/main: no bench/main beside it`);
  return [...MOE_CLI.slice(0, -1), join(dirname(dirname(entry)), "bench", `main${extname(entry)}`)];
})();
