/** `moe plan` (register and option parsers; the action is in plan-run.ts). */
import { InvalidArgumentError, type Command } from "commander";
import { deviceKeys } from "../planner/light.js";
import { lazy } from "./lazy.js";

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${v}'`);
  return n;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer ≥ 0, got '${v}'`);
  return n;
}

/** Attach `moe plan` to the program. */
export function register(program: Command): void {
  program
    .command("plan")
    .description("plan which host runs which layers and experts; predict memory, speed and the bottleneck (exit 2 if it does not fit)")
    .option("--model <name|dir>", "preset (grok-1, grok-1-tiny) or model directory with config.json (default: the cluster's model, else grok-1)")
    .option("--cluster <file>", "cluster YAML (examples in configs/clusters/)")
    .option("--dtype <dtype>", "weight dtype: int8, bf16, fp16, q8_0 or f32 (default: the model file's, else the cluster's dtype, else int8)")
    .option("--kv-dtype <dtype>", "KV-cache dtype: f16, bf16 or f32 (default: the engine's, f32, when --model is a model file; else f32 for f32 weights, f16 otherwise)")
    .option("--context <tokens>", "tokens per sequence the KV cache is sized for (default: the model's context)", positiveInt)
    .option("--concurrency <n>", "sequences decoding at once (default 1)", positiveInt)
    .option("--prompt <tokens>", "prompt length for time to first token (default min(1024, context))", positiveInt)
    .option("--expert-load <file>", "router per-expert token counts (JSON [layer][expert]); replicates hot experts")
    .option("--replicas <n>", "extra expert replicas allowed per layer (default experts/4 with --expert-load, else 0)", nonNegativeInt)
    .option("--compare", "also predict a uniform and a memory-proportional split")
    .option("--min-cluster", "find how many of --gpu devices the model needs")
    .option("--gpu <device>", `catalogue device for --min-cluster (${deviceKeys().join(", ")})`)
    .option("--replan", "ignore the cluster file's explicit placement")
    .option("--calibrate <file>", "fit the software costs (messages, session runs, compute speed, shared cores) to `moe bench cluster --json` output")
    .option("--json", "print the plan as JSON")
    .option("--out <file>", "write plan.json (what `moe up` reads)")
    .addHelpText(
      "after",
      `
Examples:
  moe plan --model grok-1 --cluster configs/clusters/h100x8.yaml
  moe plan --model grok-1 --cluster configs/clusters/h100x8.yaml --dtype bf16
  moe plan --cluster configs/clusters/mixed.yaml --compare --concurrency 16
  moe plan --cluster configs/clusters/local.yaml --out plan.json
  moe bench cluster --json > bench.json && moe plan --cluster configs/clusters/local.yaml --calibrate bench.json
  moe plan --min-cluster --gpu h100-80gb --dtype int8 --context 8192 --concurrency 8`,
    )
    .action(lazy(async () => (await import("./plan-run.js")).action));
}
