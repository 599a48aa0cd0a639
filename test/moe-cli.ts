/**
 * Node arguments that run the `moe` CLI on the current sources, for tests that
 * spawn it themselves: the transpiled tree of test/global-setup.ts
 * (`$MOE_ENTRY`) when the run has one, else `--import tsx cli/main.ts`.
 * Usage: `spawn(process.execPath, [...MOE_CLI, "plan", ...])`.
 */
import { moeCommand } from "../control/index.js";

export const MOE_CLI: readonly string[] = moeCommand().args;
