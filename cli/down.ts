/** `moe down` (register; the action is in down-run.ts). */
import type { Command } from "commander";
import { lazy } from "./lazy.js";
import { parseIntOption } from "./options.js";

/** Attach `moe down` to the program. */
export function register(program: Command): void {
  program
    .command("down")
    .description("stop a cluster started by `moe up`: its launcher, and every process on its ssh hosts")
    .argument("<cluster>", "cluster YAML given to `moe up`")
    .option("--run-dir <dir>", "run directory of the cluster (default .moe/run/<cluster>)")
    .option("--timeout <s>", "seconds to wait for the launcher to stop before killing it", parseIntOption("--timeout", 1), 30)
    .action(lazy(async () => (await import("./down-run.js")).action));
}
