#!/usr/bin/env node
/**
 * The `moe` command. Each sub-command lives in its own file under cli/ and
 * exports `register(program)`; this file only wires them together.
 */
import { Command } from "commander";
import { registerCommands } from "./commands.js";

const program = new Command();
program.name("moe").description("Serve Grok-1-class Mixture-of-Experts models across heterogeneous clusters").version("0.1.0");
registerCommands(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error & { code?: string };
  console.error(`moe: error: ${e?.message ?? String(err)}`);
  if (process.env.MOE_DEBUG) console.error(e?.stack);
  process.exit(1);
});
