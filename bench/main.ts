/** `npm run bench -- <name> [args]`: runs bench/<name>.ts (see bench/index.ts). */
import { runBenches } from "./index.js";

const [name, ...args] = process.argv.slice(2);
runBenches(name ? [name] : [], args).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(e instanceof Error && e.message.startsWith("unknown benchmark") ? 2 : 1);
});
