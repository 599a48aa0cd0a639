/** `moe bench <name>`: the same benchmarks as `npm run bench -- <name>` (never part of `npm test`). */
import type { Command } from "commander";
import { BENCH_USAGE, BENCHES, benchCommand, ON_DEMAND_BENCHES } from "../bench/light.js";

export function register(program: Command): void {
  const cmd = program
    .command("bench")
    .description(`run a benchmark (all but ${ON_DEMAND_BENCHES.join(", ")} when none is named); \`moe bench NAME --help\` prints one's arguments`)
    .argument("[name]", "which benchmark")
    .argument("[args...]", "arguments for the benchmark")
    .allowUnknownOption(true)
    // --help goes to the benchmark named (its usage); without a name, this command's help
    .helpOption(false)
    .addHelpText(
      "after",
      `
Options:
  -h, --help  with NAME: that benchmark's arguments; without: this help

Benchmarks:
${BENCHES.map((b) => `  ${b.padEnd(13)}${BENCH_USAGE[b]}`).join("\n")}

Examples:
  moe bench engine --help                              # the engine benchmark's arguments
  moe bench engine
  moe bench cluster                                    # tables: decode, CPU per token, round trips vs raw ZeroMQ, where a round trip goes
  moe bench cluster --json > bench.json                # every figure as JSON (schema moe-bench-cluster/2)
  moe bench cluster --threads 2 --steps 64 --calls 80 --out bench.json
  moe bench cluster --warmup 0 --reps 1                # cold processes, one pass (the method before the warm-up)
  moe bench llama --threads 1,2                         # ours vs llama.cpp on the Grok-shaped f32 and Q8_0 GGUFs, same run
  moe plan --cluster configs/clusters/local.yaml --calibrate bench.json`,
    )
    // a --model of 1 GiB or more: a re-run of this command on huge pages (bench/light.ts benchCommand)
    .action((name: string | undefined, args: string[]) => benchCommand(name, args, () => cmd.outputHelp()));
}
