/** `moe dataset` (register; the action is in dataset-run.ts). */
import type { Command } from "commander";
import { lazy } from "./lazy.js";
import { parseIntOption } from "./options.js";

export function register(program: Command): void {
  program
    .command("dataset")
    .description("write a synthetic ShareGPT-shaped dataset (seeded, English-like turns of varied length) for moe loadtest --dataset")
    .requiredOption("--out <file>", "where to write the JSON array")
    .option("--conversations <n>", "conversations to write", parseIntOption("--conversations", 1), 200)
    .option("--seed <s>", "seed (the same seed writes the same bytes)", parseIntOption("--seed", 0), 0)
    .action(lazy(async () => (await import("./dataset-run.js")).action));
}
