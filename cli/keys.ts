/** `moe keys --out DIR` (register; the action is in keys-run.ts). */
import type { Command } from "commander";
import { lazy } from "./lazy.js";

/** Attach `moe keys` to `program`. */
export function register(program: Command): void {
  program
    .command("keys")
    .description("generate the cluster's CURVE keys (server and client keypairs, Z85, mode 0600)")
    .requiredOption("--out <dir>", "directory to write the key files to (created with mode 0700)")
    .option("--force", "replace existing key files (every host then needs the new ones)", false)
    .action(lazy(async () => (await import("./keys-run.js")).action));
}
