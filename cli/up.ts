/** `moe up` (register and option parsers; the action is in up-run.ts). */
import { InvalidArgumentError, type Command } from "commander";
import { lazy } from "./lazy.js";
import { parseIntOption } from "./options.js";

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port must be an integer in [0, 65535], got '${v}'`);
  return n;
}

/** Attach `moe up` to the program. */
export function register(program: Command): void {
  program
    .command("up")
    .description("start every process of a cluster placed on this machine; Ctrl-C stops them all")
    .argument("<cluster>", "cluster YAML (e.g. configs/clusters/local.yaml)")
    .option("--model <path>", "model directory or .gguf file (default: the file's model:, else the tiny model, created on first use)")
    .option("--port <n>", "gateway HTTP port (0 = any free port; default: the config's, else 8000)", port)
    .option("--no-gateway", "do not start the HTTP gateway")
    .option("--api-key <key>", "require 'Authorization: Bearer <key>' at the gateway (all endpoints but /health); default: $MOE_API_KEY")
    .option("--parts <dir>", "static mode: per-host model parts from `moe model slice` (<dir>/<host>.gguf); each host opens (and an ssh host is sent) only its part. Dynamic mode slices them itself")
    .option("--plan <file>", "run this plan.json from `moe plan --out` (e.g. re-planned with --expert-load) instead of the file's placement")
    .option("--run-dir <dir>", "where runtime.json, plan.json, expert-load.json and logs/ go (default .moe/run/<cluster>)")
    .option("--keys <dir>", "CURVE keys from `moe keys` for `curve: true` (default <run-dir>/keys, generated once)")
    .option("--keep-going", "keep serving when a process dies (replicas cover it) instead of stopping everything")
    .option("--restart <n>", "restart a process that dies, up to n times a minute (its KV caches are lost); then --keep-going or stop", parseIntOption("--restart", 1))
    .option("--warmup-passes <n>", "synthetic decode passes (16 requests per micro-batch, 16 + 32 tokens each) the gateway runs through the cluster before it accepts requests; 0 = none (default: the file's warmup_passes, else 8)", parseIntOption("--warmup-passes", 0))
    .option("--ready-timeout <s>", "seconds to wait for every process to be ready (dynamic mode: without any progress)", parseIntOption("--ready-timeout", 1), 120)
    .option("--host <address>", "dynamic mode: address the gateway binds (default 127.0.0.1; 0.0.0.0 for every interface)")
    .option("--min-hosts <n>", "dynamic mode: hosts to wait for before planning (default: the file's min_hosts)", parseIntOption("--min-hosts", 1))
    .option("--heartbeat-timeout <s>", "dynamic mode: a host silent this long is lost and the cluster re-planned (default 5)", parseIntOption("--heartbeat-timeout", 1))
    .option("--quiet", "do not print the plan table")
    .addHelpText(
      "after",
      `
Examples:
  moe up configs/clusters/local.yaml
  moe up configs/clusters/local.yaml --port 8080 --keep-going
  moe up configs/clusters/local.yaml --restart 3
  moe plan --cluster configs/clusters/local.yaml --replan --expert-load .moe/run/local/expert-load.json --out plan.json
  moe up configs/clusters/local.yaml --plan plan.json
  moe status --cluster configs/clusters/local.yaml
  moe up configs/clusters/dynamic.yaml --host 0.0.0.0     # nats: in the file: hosts join with \`moe node --join\``,
    )
    .action(lazy(async () => (await import("./up-run.js")).action));
}
