/** `moe demo` (register; the action is in demo-run.ts). */
import type { Command } from "commander";
import { lazy } from "./lazy.js";
import { parseIntOption } from "./options.js";

export function register(program: Command): void {
  program
    .command("demo")
    .description("start the local cluster, load-test it, print the summary and stop")
    .option("--cluster <file>", "cluster YAML", "configs/clusters/local.yaml")
    .option("--requests <n>", "requests to send", parseIntOption("--requests", 1), 50)
    .option("--concurrency <n>", "simultaneous requests", parseIntOption("--concurrency", 1), 8)
    .action(lazy(async () => (await import("./demo-run.js")).action));
}
