/** Option parsers for commander that fail with the flag's name and the fix. */
import { InvalidArgumentError, Option, type Command } from "commander";
import type { ComputeOptions } from "../model/index.js";

/** Integer ≥ min. */
export function parseIntOption(flag: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

/** Finite number ≥ min. */
export function parseFloatOption(flag: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${flag} must be a number >= ${min}, got '${v}'`);
    return n;
  };
}

/** "1,422,3033" → [1, 422, 3033]. */
export function parseIds(v: string): number[] {
  const ids = v.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (ids.length === 0 || ids.some((n) => !Number.isInteger(n) || n < 0))
    throw new InvalidArgumentError(`--prompt-ids must be comma-separated non-negative integers, got '${v}'`);
  return ids;
}

/** The compute flags every command that runs the model takes (see {@link addComputeFlags}). */
export interface ComputeFlags {
  threads?: number;
  executionProvider: string;
  exact8bit?: boolean;
  int8Activations?: boolean;
  dequantizeQ8?: boolean;
  kvDtype: string;
  spin?: boolean;
  singleThreadRows?: number;
  expertWorkers?: number;
  expertSessions?: string;
  expertExecutor?: string;
}

/**
 * Add --threads, --execution-provider, --exact-8bit, --dequantize-q8, --kv-dtype, --spin, --single-thread-rows, --expert-workers,
 * --expert-sessions, --expert-executor and the old
 * --int8-activations (accepted, a no-op: int8 activations are the default).
 */
export function addComputeFlags(cmd: Command): Command {
  return cmd
    .option("--threads <n>", "onnxruntime intra-op threads per session (default: this host's cores)", parseIntOption("--threads", 1))
    .option("--execution-provider <ep>", "cpu or cuda", "cpu")
    .option("--exact-8bit", "Q8_0 matmuls lossless to f32 rounding (activations as three int8 limbs); default: int8 activations per block of 32, as llama.cpp")
    .option("--dequantize-q8", "expand Q8_0 weights to f32 at load: the same numbers as --exact-8bit, 4.25x the weight memory")
    .option("--kv-dtype <dtype>", "KV cache element type: f32 or f16 (half the KV memory)", "f32")
    .option("--spin", "with --threads > 1: thread pools spin inside a run (faster hand-offs on an otherwise idle host; costly on a busy one) and stop when it ends")
    .option(
      "--single-thread-rows <n>",
      "with --threads > 1: runs of at most this many rows through a small block (<= 4 MiB of weights) use a one-thread session of it (0: off)",
      parseIntOption("--single-thread-rows", 0),
    )
    .option(
      "--expert-workers <n>",
      "split each layer's experts over n threads (this one + n-1 worker threads, one-thread sessions) and run a layer's experts concurrently; bit-identical results (0/1: off)",
      parseIntOption("--expert-workers", 0),
    )
    .option("--expert-sessions <how>", "layer: one session per layer holding its experts, run once per step (default); expert: one session per expert, run per routed expert; bit-identical")
    .option("--expert-executor <how>", "with --threads > 1, how a layer session uses them: sequential (intra-op threads, default) or parallel (onnxruntime's parallel executor: experts on different cores)")
    .addOption(new Option("--int8-activations", "no-op: int8 activations are the default now (use --exact-8bit for the lossless path)").hideHelp());
}

/**
 * Validated {@link ComputeOptions} of the flags; throws InvalidArgumentError naming the bad flag.
 * Without --threads: `threads` (a process that has the host to itself: defaultThreads(), its cores).
 */
export function computeOptionsOf(flags: ComputeFlags, threads: number): ComputeOptions {
  if (flags.executionProvider !== "cpu" && flags.executionProvider !== "cuda")
    throw new InvalidArgumentError(`--execution-provider must be cpu or cuda, got '${flags.executionProvider}'`);
  if (flags.kvDtype !== "f32" && flags.kvDtype !== "f16") throw new InvalidArgumentError(`--kv-dtype must be f32 or f16, got '${flags.kvDtype}'`);
  const sessions = flags.expertSessions;
  if (sessions !== undefined && sessions !== "layer" && sessions !== "expert") throw new InvalidArgumentError(`--expert-sessions must be layer or expert, got '${sessions}'`);
  const executor = flags.expertExecutor;
  if (executor !== undefined && executor !== "sequential" && executor !== "parallel") throw new InvalidArgumentError(`--expert-executor must be sequential or parallel, got '${executor}'`);
  return {
    threads: flags.threads ?? threads,
    executionProvider: flags.executionProvider,
    exactQ8: flags.exact8bit === true,
    dequantizeQ8: flags.dequantizeQ8 === true,
    kvDtype: flags.kvDtype,
    ...(flags.spin === true ? { spinning: true } : {}),
    ...(flags.singleThreadRows !== undefined ? { singleThreadRows: flags.singleThreadRows } : {}),
    ...(flags.expertWorkers !== undefined && flags.expertWorkers > 1 ? { expertWorkers: flags.expertWorkers } : {}),
    ...(sessions !== undefined ? { expertSessions: sessions } : {}),
    ...(executor !== undefined ? { expertExecutor: executor } : {}),
  };
}
