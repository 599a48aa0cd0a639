/** `moe cluster rebalance` (register; the action is in cluster-run.ts). */
import type { Command } from "commander";
import { lazy } from "./lazy.js";
import { parseIntOption } from "./options.js";

/** Attach `moe cluster` to the program. */
export function register(program: Command): void {
  const cluster = program.command("cluster").description("operate a running dynamic cluster (nats:)");
  cluster
    .command("rebalance")
    .description("plan afresh over every live host (hosts that joined later included) and switch to it")
    .requiredOption("--nats <url>", "the cluster's NATS server, e.g. nats://10.0.0.1:4222")
    .option("--timeout <s>", "seconds to wait for the new plan to be in force", parseIntOption("--timeout", 1), 600)
    .action(lazy(async () => (await import("./cluster-run.js")).rebalance));
}
