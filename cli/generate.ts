/** `moe generate` (register; the action is in generate-run.ts). */
import type { Command } from "commander";
import { lazy } from "./lazy.js";
import { addComputeFlags, parseIds, parseIntOption, parseFloatOption } from "./options.js";

export function register(program: Command): void {
  const cmd = program
    .command("generate")
    .description("generate text from a prompt (greedy when --temperature is 0)")
    .argument("[prompt]", "prompt text (tokenized with the model's tokenizer)")
    .option("--model <path>", "model directory or single .gguf file (default: the tiny model, created on first use); with --cluster: a local copy of the cluster's model for the tokenizer")
    .option("--max-tokens <n>", "most new tokens", parseIntOption("--max-tokens", 1), 64)
    .option("--temperature <t>", "sampling temperature; 0 = greedy", parseFloatOption("--temperature", 0), 0)
    .option("--top-p <p>", "nucleus sampling mass in (0, 1]", parseFloatOption("--top-p", 0), 1)
    .option("--top-k <k>", "keep the k most likely tokens (0 = off)", parseIntOption("--top-k", 0))
    .option("--min-p <p>", "drop tokens less likely than p × the most likely one (0 = off)", parseFloatOption("--min-p", 0))
    .option("--presence-penalty <x>", "subtract x from the logit of every token already generated ([-2, 2])", parseFloatOption("--presence-penalty", -2))
    .option("--frequency-penalty <x>", "subtract x × count from the logit of every token already generated ([-2, 2])", parseFloatOption("--frequency-penalty", -2))
    .option("--repetition-penalty <x>", "divide positive (multiply negative) logits of prompt and generated tokens by x (1 = off)", parseFloatOption("--repetition-penalty", 0))
    .option("--prefill-chunk <n>", "prompt tokens per prefill step", parseIntOption("--prefill-chunk", 1), 512)
    .option("--seed <s>", "sampling seed", parseIntOption("--seed", 0))
    .option("--prompt-ids <ids>", "comma-separated token ids used exactly as given, instead of text", parseIds)
    .option("--json", "print {prompt_ids, ids, text} as JSON instead of streaming text")
    .option("--logits-out <file>", "write the last prompt position's logits (little-endian float32, vocab values)")
    .option("--cluster <file>", "generate through a running cluster: its YAML (run by `moe up`), runtime.json or run directory")
    .option("--run-dir <dir>", "run directory of the cluster (default .moe/run/<cluster>); implies --cluster")
    .option("--timing", "print load time, prefill time and decode tokens/s to stderr")
    .option("--no-huge-pages", "on Linux, weights of 1 GiB or more are served by a re-run of this command with glibc malloc on transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1; loads several times faster); this flag (or MOE_HUGE_PAGES=0) keeps the default malloc");
  addComputeFlags(cmd).action(lazy(async () => (await import("./generate-run.js")).action));
}
