/**
 * `moe bench llama [--model PATH]... [--threads 1,2] [--prompt 128] [--steps 32] [--reps 3] [--check-tokens 16]
 * [--in-process] [--no-install] [--json]`: this project's engine against llama.cpp (node-llama-cpp's prebuilt
 * CPU binary, pinned in bench/llama-cpp/, installed there on first use or taken from $MOE_LLAMA_CPP_DIR) on the
 * same GGUF files, in the same run.
 *
 * For each model (default: the Grok-shaped f32 and Q8_0 bench models, generated on first use) and thread
 * count: prefill of the same prompt at batch 1, then the same number of greedy decode steps, ours as
 * `moe bench engine` measures it (f32 weights as f32, Q8_0 with int8 activations, as llama.cpp runs Q8_0)
 * and llama.cpp with n_threads = n_threads_batch = N; the two alternate within each rep (who goes first
 * alternates between reps), best of the reps. The read bandwidth (bench/bandwidth.ts) is measured before
 * every rep; both sides' decode is given as a fraction of it (weight bytes per token, bench/engine's
 * accounting). llama.cpp runs in a child process (--in-process: in this one). Before the reps, both
 * generate greedily from the same short prompt and the tokens are compared.
 */
import { existsSync, statSync } from "node:fs";
import { loadavg } from "node:os";
import { basename, extname } from "node:path";
import { Engine, findModelFiles, findXaiCheckpoint, ModelConfigError, openModel, type LoadedModel } from "../model/index.js";
import { BandwidthBest, benchPrompt, bytesPerStep, computeOf, measure } from "./engine-measure.js";
import { ensureBenchModel } from "./engine-models.js";
import { openLlamaPeer } from "./llama-peer.js";
import type { LlamaPeer } from "./llama-runner.js";
import {
  benchRow,
  compareTokens,
  formatLlamaBench,
  LLAMA_BENCH_SCHEMA,
  LLAMA_USAGE,
  parseLlamaArgs,
  prefillScaling,
  sideFigures,
  type LlamaBenchJson,
  type LlamaBenchModel,
  type Sample,
  type TokenCheck,
} from "./llama-report.js";
import { ensureLlamaCpp, LLAMA_CPP_PACKAGE } from "./llama-setup.js";

/**
 * The GGUF file llama.cpp loads for `path`: the file itself, or the weight file `openModel` (and so
 * `moe generate`) opens in a directory (model/weights' `findModelFiles`: its only weight file, a split
 * set's first part), so both sides of the race read the same weights.
 * @throws ModelConfigError naming the path and the file(s) when there is no such GGUF: a missing path, a
 *   file or a directory's weights that are not GGUF, a directory with no weight file or several
 */
export function ggufOf(path: string): string {
  if (!existsSync(path)) throw new ModelConfigError(`${path}: no such model file or directory\n${LLAMA_USAGE}`, { file: path });
  const dir = statSync(path).isDirectory();
  if (dir && findXaiCheckpoint(path))
    throw new ModelConfigError(`${path}: an xAI checkpoint; llama.cpp reads GGUF files only`, { file: path, fix: `write one with \`moe model convert --from ${path} --to FILE.gguf\`` });
  const file = dir ? findModelFiles(path).weights : path;
  if (extname(file).toLowerCase() !== ".gguf")
    throw new ModelConfigError(`${path}: llama.cpp reads GGUF files only, and ${file === path ? "this file" : `the directory's weights (${basename(file)})`} is not one`, {
      file,
      fix: "pass a .gguf file, or a model directory whose one weight file is a .gguf (or a gguf-split set); `moe model convert` writes one",
    });
  return file;
}

/** One model with both sides loaded. */
interface Loaded {
  readonly path: string;
  readonly file: string;
  readonly model: LoadedModel;
  readonly q8: boolean;
  readonly engines: Map<number, Engine>;
  peer?: LlamaPeer;
  readonly samples: Map<string, Sample[]>;
}

async function load(path: string, o: ReturnType<typeof parseLlamaArgs>, entry: string): Promise<Loaded> {
  const file = ggufOf(path);
  const model = openModel(path);
  const q8 = model.weights.info("blk.0.attn_q.weight").dtype === "Q8_0";
  const l: Loaded = { path, file, model, q8, engines: new Map(), samples: new Map() };
  try {
    for (const t of o.threads) l.engines.set(t, await Engine.create(model.config, model.weights, computeOf(q8 ? "int8" : "f32", t, {})));
    const batch = Math.max(o.prompt, o.checkTokens, 8);
    l.peer = await openLlamaPeer({ entry, modelPath: file, threads: o.threads, contextSize: model.config.contextLength, batchSize: batch, inProcess: o.inProcess });
    return l;
  } catch (e) {
    await close(l);
    throw e;
  }
}

async function close(l: Loaded): Promise<void> {
  for (const e of l.engines.values()) await e.close();
  l.engines.clear();
  await l.peer?.close();
  l.model.close();
}

/** Both sides' greedy tokens from the same short prompt, at the fewest threads. */
async function tokenCheck(l: Loaded, n: number, threads: number): Promise<TokenCheck> {
  const ours = await measure(l.engines.get(threads)!, 1, n, n);
  const theirs = await l.peer!.generate(threads, benchPrompt(l.model.config.vocabSize, n), n);
  return compareTokens(threads, n, ours.tokens, theirs.tokens);
}

export async function run(args: string[] = []): Promise<void> {
  const o = parseLlamaArgs(args);
  const llama = await ensureLlamaCpp({ install: o.install });
  const start = loadavg();
  const paths = o.models.length ? o.models : [ensureBenchModel("grok-shaped", "f32"), ensureBenchModel("grok-shaped", "q8_0")];
  const bandwidth = new BandwidthBest(o.threads);
  const loaded: Loaded[] = [];
  const checks = new Map<Loaded, TokenCheck>();
  try {
    for (const p of paths) loaded.push(await load(p, o, llama.entry));
    const fewest = Math.min(...o.threads);
    // warm-up at the measured sizes (a short one left the first rep of both sides 2–3× slow)
    const warm = Math.min(o.steps, 8);
    for (const l of loaded)
      for (const t of o.threads) {
        await measure(l.engines.get(t)!, 1, o.prompt, warm);
        await l.peer!.generate(t, benchPrompt(l.model.config.vocabSize, o.prompt), warm);
      }
    if (o.checkTokens > 0) for (const l of loaded) checks.set(l, await tokenCheck(l, o.checkTokens, fewest));
    for (let rep = 0; rep < o.reps; rep++) {
      await bandwidth.measure();
      for (const l of loaded)
        for (const t of o.threads) {
          const prompt = benchPrompt(l.model.config.vocabSize, o.prompt);
          const sides = ["ours", "llama"] as const;
          for (const side of rep % 2 ? [...sides].reverse() : sides) {
            let s: Sample;
            if (side === "ours") {
              const r = await measure(l.engines.get(t)!, 1, o.prompt, o.steps);
              s = { prefill: r.prefill, decode: r.decode, cpuMs: r.cpuMs };
            } else {
              const r = await l.peer!.generate(t, prompt, o.steps);
              s = { prefill: r.prefillTokensPerSecond, decode: r.decodeTokensPerSecond, cpuMs: r.decodeCpuMsPerStep };
            }
            const key = `${side}/${t}`;
            l.samples.set(key, [...(l.samples.get(key) ?? []), s]);
          }
        }
    }
    const roof = bandwidth.best();
    const models: LlamaBenchModel[] = loaded.map((l) => {
      const cfg = l.model.config;
      const bytes = bytesPerStep(cfg, l.q8 ? "q8_0" : "f32", 1);
      const rows = o.threads.map((t) =>
        benchRow(t, sideFigures(l.samples.get(`ours/${t}`)!, bytes, roof, bandwidth.at(t)), sideFigures(l.samples.get(`llama/${t}`)!, bytes, roof, bandwidth.at(t))),
      );
      return {
        model: cfg.name,
        file: l.file,
        weights: l.q8 ? "q8_0" : "f32",
        weightBytesPerToken: bytes,
        llamaContextSize: l.peer!.info().contextSize,
        contextLength: cfg.contextLength,
        rows,
        prefillScaling: prefillScaling(rows),
        tokens: checks.get(l) ?? null,
      };
    });
    const report: LlamaBenchJson = {
      schema: LLAMA_BENCH_SCHEMA,
      llamaCpp: { package: LLAMA_CPP_PACKAGE, version: llama.version, packageDir: llama.packageDir, process: o.inProcess ? "in-process" : "child" },
      load: { start, end: loadavg() },
      bandwidth: bandwidth.report(),
      roofGBs: +(roof / 1e9).toFixed(2),
      prompt: o.prompt,
      steps: o.steps,
      reps: o.reps,
      models,
    };
    console.log(o.json ? JSON.stringify(report, null, 1) : formatLlamaBench(report));
  } finally {
    for (const l of loaded) await close(l);
  }
}
