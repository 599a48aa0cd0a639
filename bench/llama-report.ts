/**
 * The pure parts of `moe bench llama`: its arguments, the figures of each side over the reps, the greedy
 * token comparison, and the report (text table and JSON, schema {@link LLAMA_BENCH_SCHEMA}).
 */
import { parseArgs } from "node:util";
import { median } from "./stats.js";

/** Version tag of `moe bench llama --json`. */
export const LLAMA_BENCH_SCHEMA = "moe-bench-llama/1";

/** The arguments of `moe bench llama` (its usage line here, and bench/light.ts' BENCH_USAGE). */
export const LLAMA_ARGS = "[--model PATH]... [--threads 1,2] [--prompt 128] [--steps 32] [--reps 3] [--check-tokens 16] [--in-process] [--no-install] [--json]";

export const LLAMA_USAGE = `usage: moe bench llama ${LLAMA_ARGS}`;

/** What `moe bench llama` was asked to do. */
export interface LlamaBenchOptions {
  /** Model directories or .gguf files; empty: the Grok-shaped f32 and Q8_0 bench models. */
  readonly models: readonly string[];
  readonly threads: readonly number[];
  /** Prompt tokens prefilled at batch 1. */
  readonly prompt: number;
  /** Greedy decode steps after the prefill. */
  readonly steps: number;
  readonly reps: number;
  /** Prompt tokens and steps of the greedy token comparison (0: none). */
  readonly checkTokens: number;
  /** llama.cpp in this process instead of a child process. */
  readonly inProcess: boolean;
  /** Install node-llama-cpp into bench/llama-cpp when missing (--no-install: fail with the explanation). */
  readonly install: boolean;
  readonly json: boolean;
}

function positive(name: string, v: string | undefined, d: number, zero = false): number {
  if (v === undefined) return d;
  const x = Number(v);
  if (!/^\d+$/.test(v) || (!zero && x < 1)) throw new Error(`--${name} takes a ${zero ? "non-negative" : "positive"} integer, got '${v}'\n${LLAMA_USAGE}`);
  return x;
}

/** Parse `moe bench llama`'s arguments; errors name the flag and show the usage. */
export function parseLlamaArgs(args: readonly string[]): LlamaBenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        model: { type: "string", multiple: true },
        threads: { type: "string" },
        prompt: { type: "string" },
        steps: { type: "string" },
        reps: { type: "string" },
        "check-tokens": { type: "string" },
        "in-process": { type: "boolean" },
        "no-install": { type: "boolean" },
        json: { type: "boolean" },
      },
      strict: true,
    }));
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : e}\n${LLAMA_USAGE}`);
  }
  const t = values.threads ?? "1,2";
  if (!/^\d+(,\d+)*$/.test(t) || t.split(",").some((x) => Number(x) < 1)) throw new Error(`--threads takes a comma-separated list of positive integers, got '${t}'\n${LLAMA_USAGE}`);
  return {
    models: values.model ?? [],
    threads: [...new Set(t.split(",").map(Number))],
    prompt: positive("prompt", values.prompt, 128),
    steps: positive("steps", values.steps, 32),
    reps: positive("reps", values.reps, 3),
    checkTokens: positive("check-tokens", values["check-tokens"], 16, true),
    inProcess: values["in-process"] ?? false,
    install: !values["no-install"],
    json: values.json ?? false,
  };
}

/** One rep of one side: tokens/s and CPU ms per decode step. */
export interface Sample {
  readonly prefill: number;
  readonly decode: number;
  readonly cpuMs: number;
}

/** One side (this project's engine or llama.cpp) at one thread count, over the reps. */
export interface SideFigures {
  /** Best over the reps, tokens/s. */
  readonly prefillTokensPerSecond: number;
  readonly decodeTokensPerSecond: number;
  /** Median over the reps, tokens/s. */
  readonly prefillMedian: number;
  readonly decodeMedian: number;
  /** Least process CPU time per decode step over the reps (all threads), ms. */
  readonly decodeCpuMsPerStep: number;
  /** Best decode × weight bytes per token ÷ the roof (the best read bandwidth at any thread count). */
  readonly roofFraction: number;
  /** The same against the read bandwidth measured at this row's thread count. */
  readonly threadBandwidthFraction: number;
  /** Every rep, in order: prefill and decode tokens/s. */
  readonly prefillSamples: number[];
  readonly decodeSamples: number[];
}

/** Ours and llama.cpp at one thread count on one model. */
export interface LlamaBenchRow {
  readonly threads: number;
  readonly ours: SideFigures;
  readonly llamaCpp: SideFigures;
  /** Ours ÷ llama.cpp, best vs best. */
  readonly prefillOursOverLlama: number;
  readonly decodeOursOverLlama: number;
}

/** Greedy tokens of both on the same prompt, from the same fresh sequence. */
export interface TokenCheck {
  readonly threads: number;
  readonly promptTokens: number;
  /** Tokens compared (steps + 1 each). */
  readonly generated: number;
  readonly identical: boolean;
  /** Index of the first token that differs; null when identical. */
  readonly firstDifference: number | null;
  readonly ours: number[];
  readonly llamaCpp: number[];
}

/** One model's part of the report. */
export interface LlamaBenchModel {
  readonly model: string;
  /** The GGUF file both ran. */
  readonly file: string;
  readonly weights: "f32" | "q8_0";
  /** Weight bytes one decode step reads at batch 1 (bench/engine's accounting), for both sides. */
  readonly weightBytesPerToken: number;
  /** The context llama.cpp allocated (ours: the model's context length, the KV cache growing with the sequence). */
  readonly llamaContextSize: number;
  readonly contextLength: number;
  readonly rows: LlamaBenchRow[];
  /** Prefill at the most threads ÷ at 1 thread (best ÷ best); null unless both were measured. */
  readonly prefillScaling: { readonly threads: number; readonly ours: number; readonly llamaCpp: number } | null;
  readonly tokens: TokenCheck | null;
}

/** `moe bench llama --json`. */
export interface LlamaBenchJson {
  readonly schema: typeof LLAMA_BENCH_SCHEMA;
  readonly llamaCpp: { readonly package: string; readonly version: string; readonly packageDir: string; readonly process: "child" | "in-process" };
  /** os.loadavg() (1, 5, 15 min) before and after. */
  readonly load: { readonly start: number[]; readonly end: number[] };
  /** Best read bandwidth per thread count (bench/bandwidth.ts, measured before every rep), GB/s. */
  readonly bandwidth: { threads: number; readGBs: number }[];
  readonly roofGBs: number;
  readonly prompt: number;
  readonly steps: number;
  readonly reps: number;
  readonly models: LlamaBenchModel[];
}

/** One side's figures from its reps; `roof` and `threadBandwidth` in bytes/s. */
export function sideFigures(samples: readonly Sample[], weightBytesPerToken: number, roof: number, threadBandwidth: number): SideFigures {
  if (samples.length === 0) throw new Error("sideFigures: no samples");
  const prefill = samples.map((s) => s.prefill);
  const decode = samples.map((s) => s.decode);
  const best = Math.max(...decode);
  return {
    prefillTokensPerSecond: Math.max(...prefill),
    decodeTokensPerSecond: best,
    prefillMedian: median(prefill),
    decodeMedian: median(decode),
    decodeCpuMsPerStep: Math.min(...samples.map((s) => s.cpuMs)),
    roofFraction: (best * weightBytesPerToken) / roof,
    threadBandwidthFraction: (best * weightBytesPerToken) / threadBandwidth,
    prefillSamples: prefill,
    decodeSamples: decode,
  };
}

/** A row from both sides' figures. */
export function benchRow(threads: number, ours: SideFigures, llamaCpp: SideFigures): LlamaBenchRow {
  return {
    threads,
    ours,
    llamaCpp,
    prefillOursOverLlama: ours.prefillTokensPerSecond / llamaCpp.prefillTokensPerSecond,
    decodeOursOverLlama: ours.decodeTokensPerSecond / llamaCpp.decodeTokensPerSecond,
  };
}

/** Prefill at the most threads ÷ 1 thread, for both; null without a 1-thread row and another. */
export function prefillScaling(rows: readonly LlamaBenchRow[]): LlamaBenchModel["prefillScaling"] {
  const one = rows.find((r) => r.threads === 1);
  const most = rows.reduce<LlamaBenchRow | undefined>((m, r) => (!m || r.threads > m.threads ? r : m), undefined);
  if (!one || !most || most.threads === 1) return null;
  return {
    threads: most.threads,
    ours: most.ours.prefillTokensPerSecond / one.ours.prefillTokensPerSecond,
    llamaCpp: most.llamaCpp.prefillTokensPerSecond / one.llamaCpp.prefillTokensPerSecond,
  };
}

/** Compare the greedy tokens of both. */
export function compareTokens(threads: number, promptTokens: number, ours: readonly number[], llamaCpp: readonly number[]): TokenCheck {
  const n = Math.max(ours.length, llamaCpp.length);
  let first: number | null = null;
  for (let i = 0; i < n && first === null; i++) if (ours[i] !== llamaCpp[i]) first = i;
  return { threads, promptTokens, generated: n, identical: first === null, firstDifference: first, ours: [...ours], llamaCpp: [...llamaCpp] };
}

const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

/** One line about a token check. */
export function formatTokenCheck(t: TokenCheck): string {
  const head = `greedy tokens (prompt ${t.promptTokens}, ${t.generated} generated, ${t.threads} thread(s))`;
  if (t.identical) return `${head}: identical`;
  const i = t.firstDifference!;
  const around = (xs: number[]) => xs.slice(Math.max(0, i - 2), i + 3).join(" ");
  return `${head}: differ from token ${i} (ours …${around(t.ours)}…, llama.cpp …${around(t.llamaCpp)}…); ${i} leading tokens agree`;
}

/** The report as text: per model a table, prefill scaling and the token check; then bandwidth and load. */
export function formatLlamaBench(r: LlamaBenchJson): string {
  const out: string[] = [];
  for (const m of r.models) {
    out.push(
      "",
      `${m.model} ${m.weights} (${m.file}; ${f2(m.weightBytesPerToken / 1e6)} MB of weights per decoded token; llama.cpp context ${m.llamaContextSize}, ours ${m.contextLength})`,
      "threads  prefill tok/s ours / llama.cpp (÷)   decode tok/s ours / llama.cpp (÷)   of roof ours / llama.cpp   of N-thread bw ours / llama.cpp   CPU ms/step ours / llama.cpp",
    );
    for (const row of m.rows)
      out.push(
        [
          String(row.threads).padStart(7),
          `${f0(row.ours.prefillTokensPerSecond)} / ${f0(row.llamaCpp.prefillTokensPerSecond)} (${f2(row.prefillOursOverLlama)})`.padStart(38),
          `${f1(row.ours.decodeTokensPerSecond)} / ${f1(row.llamaCpp.decodeTokensPerSecond)} (${f2(row.decodeOursOverLlama)})`.padStart(37),
          `${f2(row.ours.roofFraction)} / ${f2(row.llamaCpp.roofFraction)}`.padStart(26),
          `${f2(row.ours.threadBandwidthFraction)} / ${f2(row.llamaCpp.threadBandwidthFraction)}`.padStart(33),
          `${f2(row.ours.decodeCpuMsPerStep)} / ${f2(row.llamaCpp.decodeCpuMsPerStep)}`.padStart(30),
        ].join(" "),
      );
    if (m.prefillScaling) out.push(`prefill ${m.prefillScaling.threads} threads ÷ 1 thread: ours ${f2(m.prefillScaling.ours)}, llama.cpp ${f2(m.prefillScaling.llamaCpp)}`);
    if (m.tokens) out.push(formatTokenCheck(m.tokens));
  }
  out.push(
    "",
    `read bandwidth (onnxruntime ReduceSum over 256 MiB, best before each rep): ${r.bandwidth.map((b) => `${b.readGBs} GB/s at ${b.threads} thread(s)`).join(", ")}; roof = ${r.roofGBs} GB/s`,
    `prompt ${r.prompt}, ${r.steps} greedy decode steps, batch 1, best of ${r.reps} (interleaved); llama.cpp: ${r.llamaCpp.package}@${r.llamaCpp.version} (${r.llamaCpp.process}); ` +
      `load average ${r.load.start.map(f2).join(" ")} → ${r.load.end.map(f2).join(" ")}`,
  );
  return out.join("\n");
}
