/**
 * `moe keys --out DIR`: generate the cluster's CURVE keys (a server and a
 * client keypair, Z85, czmq certificate format, files mode 0600). Copy DIR to
 * every host; servers then accept only clients holding the cluster's keys.
 */
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { KEY_FILES, generateClusterKeys } from "../transport/index.js";

/** Attach `moe keys` to `program`. */
export function register(program: Command): void {
  program
    .command("keys")
    .description("generate the cluster's CURVE keys (server and client keypairs, Z85, mode 0600)")
    .requiredOption("--out <dir>", "directory to write the key files to (created with mode 0700)")
    .option("--force", "replace existing key files (every host then needs the new ones)", false)
    .action((opts: { out: string; force: boolean }) => {
      const dir = resolve(opts.out);
      const keys = generateClusterKeys(dir, { force: opts.force });
      for (const file of KEY_FILES) console.log(`wrote ${join(dir, file)}`);
      console.log(`server public key: ${keys.server.publicKey}`);
      console.log(`client public key: ${keys.client.publicKey}`);
      console.log(`copy ${dir} to every host (keep it private) and enable CURVE in the cluster config with this directory;`);
      console.log(`extra clients: put their public certificates (*.key) in ${join(dir, "authorized")}`);
    });
}
