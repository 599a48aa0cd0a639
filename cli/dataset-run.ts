/** `moe dataset`: write a synthetic ShareGPT-shaped conversation file for `moe loadtest --dataset`. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { shareGptJson, synthesizeShareGpt } from "../loadtest/index.js";

/** The action of `moe dataset`. */
export const action = (flags: { out: string; conversations: number; seed: number }) => {
  mkdirSync(dirname(flags.out), { recursive: true });
  writeFileSync(flags.out, shareGptJson(synthesizeShareGpt({ conversations: flags.conversations, seed: flags.seed })));
  console.error(`wrote ${flags.conversations} conversations to ${flags.out}`);
};
