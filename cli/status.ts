/** `moe status` (register; the action is in status-run.ts). */
import type { Command } from "commander";
import { lazy } from "./lazy.js";
import { parseIntOption } from "./options.js";

/** Attach `moe status` to the program. */
export function register(program: Command): void {
  program
    .command("status")
    .description("ping every process of a running cluster and print up/down (exit 1 if any is down); --nats: a dynamic cluster's live membership")
    .option("--nats <url>", "a dynamic cluster: ask its coordinator over NATS for membership, plan version and each host's state")
    .option("--cluster <file>", "cluster YAML, or its runtime.json / run directory (default: the only cluster run from here)")
    .option("--run-dir <dir>", "run directory of the cluster (default .moe/run/<cluster>)")
    .option("--timeout <ms>", "ping deadline per process", parseIntOption("--timeout", 1), 1000)
    .option("--json", "print the statuses as JSON")
    .action(lazy(async () => (await import("./status-run.js")).action));
}
