/**
 * `moe keys --out DIR`: generate the cluster's CURVE keys (a server and a
 * client keypair, Z85, czmq certificate format, files mode 0600). Copy DIR to
 * every host; servers then accept only clients holding the cluster's keys.
 */
import { join, resolve } from "node:path";
import { KEY_FILES, generateClusterKeys } from "../transport/index.js";

/** The action of `moe keys`. */
export const action = (opts: { out: string; force: boolean }) => {
  const dir = resolve(opts.out);
  const keys = generateClusterKeys(dir, { force: opts.force });
  for (const file of KEY_FILES) console.log(`wrote ${join(dir, file)}`);
  console.log(`server public key: ${keys.server.publicKey}`);
  console.log(`client public key: ${keys.client.publicKey}`);
  console.log(`copy ${dir} to every host (keep it private) and enable CURVE in the cluster config with this directory;`);
  console.log(`extra clients: put their public certificates (*.key) in ${join(dir, "authorized")}`);
};
