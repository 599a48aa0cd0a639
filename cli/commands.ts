/** Registry of `moe` sub-commands: one import and one call per command file. */
import type { Command } from "commander";

/** Attach every sub-command to `program`. */
export function registerCommands(program: Command): void {
  void program;
}
