/** `moe serve` (register; the action is in serve-run.ts). */
import type { Command } from "commander";
import { lazy } from "./lazy.js";
import { addComputeFlags, parseIntOption } from "./options.js";

export function register(program: Command): void {
  const cmd = program
    .command("serve")
    .description("serve a model over an OpenAI-compatible HTTP API (single process)")
    .option("--model <path>", "model directory or single .gguf file (default: the tiny model, created on first use)")
    .option("--host <addr>", "address to bind (loopback by default; 0.0.0.0 exposes it)", "127.0.0.1")
    .option("--port <n>", "TCP port (0 = any free port)", parseIntOption("--port", 0), 8000)
    .option("--api-key <key>", "require 'Authorization: Bearer <key>' (all endpoints but /health); default: $MOE_API_KEY")
    .option("--served-model-name <name>", "model id clients send and /v1/models lists (default: the model's name)")
    .option("--max-running <n>", "most sequences generating at once (default 64)", parseIntOption("--max-running", 1))
    .option("--max-queued <n>", "most requests waiting; more get 429 (default 256)", parseIntOption("--max-queued", 0))
    .option("--max-batch-tokens <n>", "most tokens per step, prefill chunks included (default 512)", parseIntOption("--max-batch-tokens", 16))
    .option("--max-prompt-bytes <n>", "longest prompt text tokenised, bytes; longer ones get a 400 before any work (default max(64 KiB, 32 × context length))", parseIntOption("--max-prompt-bytes", 1))
    .option("--warmup-passes <n>", "synthetic decode passes (16 requests, 16 + 32 tokens each) run before the port accepts requests; 0 = none", parseIntOption("--warmup-passes", 0), 1)
    .option("--log-level <level>", "pino log level (stderr): trace, debug, info, warn, error, silent", "info")
    .option("--no-huge-pages", "on Linux, weights of 1 GiB or more are served by a re-run of this command with glibc malloc on transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1; loads several times faster); this flag (or MOE_HUGE_PAGES=0) keeps the default malloc");
  addComputeFlags(cmd)
    .action(lazy(async () => (await import("./serve-run.js")).action));
}
