/** `moe dataset`: write a synthetic ShareGPT-shaped conversation file for `moe loadtest --dataset`. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Command } from "commander";
import { shareGptJson, synthesizeShareGpt } from "../loadtest/index.js";
import { parseIntOption } from "./options.js";

export function register(program: Command): void {
  program
    .command("dataset")
    .description("write a synthetic ShareGPT-shaped dataset (seeded, English-like turns of varied length) for moe loadtest --dataset")
    .requiredOption("--out <file>", "where to write the JSON array")
    .option("--conversations <n>", "conversations to write", parseIntOption("--conversations", 1), 200)
    .option("--seed <s>", "seed (the same seed writes the same bytes)", parseIntOption("--seed", 0), 0)
    .action((flags: { out: string; conversations: number; seed: number }) => {
      mkdirSync(dirname(flags.out), { recursive: true });
      writeFileSync(flags.out, shareGptJson(synthesizeShareGpt({ conversations: flags.conversations, seed: flags.seed })));
      console.error(`wrote ${flags.conversations} conversations to ${flags.out}`);
    });
}
