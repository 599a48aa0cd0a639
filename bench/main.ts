/**
 * `npm run bench -- [NAME] [ARGS]`: runs bench/NAME.ts (see bench/index.ts) the way `moe bench` does
 * (bench/light.ts `benchCommand`: `--help`, the re-run on huge pages for a `--model` of 1 GiB or more).
 */
import { benchCommand } from "./light.js";

const [name, ...args] = process.argv.slice(2);
benchCommand(name, args).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(e instanceof Error && e.message.startsWith("unknown benchmark") ? 2 : 1);
});
