/** `moe bench <name>`: the same benchmarks as `npm run bench -- <name>` (never part of `npm test`). */
import type { Command } from "commander";
import { BENCH_USAGE, BENCHES, ON_DEMAND_BENCHES, runBenches } from "../bench/light.js";
import { weightFileBytes } from "../model/index.js";
import { reexecWithHugePages } from "./huge-pages.js";

/** The `--model PATH` / `--model=PATH` values of a benchmark's arguments. */
export function benchModelPaths(args: readonly string[]): string[] {
  const paths: string[] = [];
  args.forEach((a, i) => {
    if (a === "--model" && i + 1 < args.length) paths.push(args[i + 1]!);
    else if (a.startsWith("--model=")) paths.push(a.slice("--model=".length));
  });
  return paths;
}

export function register(program: Command): void {
  program
    .command("bench")
    .description(
      `run a benchmark: ${BENCHES.join(", ")} (all but ${ON_DEMAND_BENCHES.join(" and ")} when none is named); ` +
        BENCHES.map((b) => `${b} ${BENCH_USAGE[b]}`).join(", ") +
        "; `npm run bench -- NAME --help` prints one's arguments",
    )
    .argument("[name]", "which benchmark")
    .argument("[args...]", "arguments for the benchmark")
    .allowUnknownOption(true)
    .addHelpText(
      "after",
      `
Examples:
  moe bench engine
  moe bench cluster                                    # tables: decode, CPU per token, round trips vs raw ZeroMQ, where a round trip goes
  moe bench cluster --json > bench.json                # every figure as JSON (schema moe-bench-cluster/2)
  moe bench cluster --threads 2 --steps 64 --calls 80 --out bench.json
  moe bench cluster --warmup 0 --reps 1                # cold processes, one pass (the method before the warm-up)
  moe bench llama --threads 1,2                         # ours vs llama.cpp on the Grok-shaped f32 and Q8_0 GGUFs, same run
  moe plan --cluster configs/clusters/local.yaml --calibrate bench.json`,
    )
    .action(async (name: string | undefined, args: string[]) => {
      // weights of 1 GiB or more: measured the way `moe generate` / `moe serve` run them, on huge pages
      // (a re-run of this command; MOE_HUGE_PAGES=0 keeps the default malloc). Full-width Grok-1 Q8_0,
      // prefill of 32 tokens on 1 thread: 0.79-0.83 s instead of 0.93-0.99 s (README, full width).
      const biggest = benchModelPaths(args).sort((a, b) => weightFileBytes(b) - weightFileBytes(a))[0];
      if (biggest !== undefined && (await reexecWithHugePages(biggest, true))) return;
      await runBenches(name ? [name] : [], args);
    });
}
