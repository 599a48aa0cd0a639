/**
 * `moe bench engine [--model PATH]... [--threads 1,2] [--json]`: prefill and decode tokens/s of the
 * single-process engine at batch 1 and 16 (greedy generation: the head and sampling run in every step,
 * as in `moe generate`), and decode as a fraction of the memory-bandwidth roof
 * (weight bytes read per token ÷ this machine's measured read bandwidth), for every way the model's
 * weights can run: f32 files as f32; Q8_0 files with int8 activations (the default) and on the exact
 * 8-bit path (and --dequantize-q8 with `--variants ...,dequantize`).
 *
 * Without --model: grok-1-tiny and the Grok-shaped model (configs/models/grok-shaped.json: Grok-1's
 * 131072 vocabulary), f32 and Q8_0, generated on first use. Every engine of a model is loaded at once
 * and the measurements interleave (rep 1 of every variant and thread count, then rep 2, ...), keeping
 * each one's best: on a shared machine, ratios measured side by side are what is comparable.
 *
 * `--keep-context` prefills each engine's batch once (the warm-up; its prefill tokens/s is the one reported) and
 * keeps those sequences live: every rep then runs `--steps` more decode steps on them, so decode is measured at a
 * context of `--prompt` tokens (growing by `--steps` per rep) without paying a long prefill per rep.
 *
 * `--experts expert,layer,layer-par` measures the ways a layer's experts can run side by side (one session per
 * expert; one per layer, sequential; one per layer, parallel executor; default: layer).
 *
 * `--compare DIR` loads a second build of this project (DIR: its `dist/` folder, e.g. the previous
 * commit's, built apart) and measures its engines interleaved with this build's on the same weights:
 * before/after ratios from one run. Its rows say `build: "compare"`; this build's rows get
 * `decodeVsCompare` / `prefillVsCompare` (this ÷ that, bests) and `…VsCompareMedian` (paired reps). Every
 * engine is warmed up at the measured sizes and odd reps run the engines in reverse order: the engine that
 * goes first runs in another memory state (after the bandwidth pass), which moved batch-16 prefill by ~20 %.
 * Both builds must resolve the same onnxruntime-node (one native binding per process).
 */
import { parseArgs } from "node:util";
import { Engine, openModel } from "../model/index.js";
import { loadCompareBuild } from "./engine-compare.js";
import { BandwidthBest, bytesPerStep, computeOf, decodeBatch, EXPERT_MODES, measure, prefillBatch, type ExpertMode, type LiveBatch, type SessionFlags, type Variant } from "./engine-measure.js";
import { ensureBenchModel } from "./engine-models.js";
import { benchUsage } from "./light.js";
import { alternatedRatio } from "./stats.js";

/** One measured configuration (best over reps). */
export interface EngineBenchRow {
  model: string;
  /** "this" build, or the `--compare` build. */
  build: "this" | "compare";
  variant: Variant;
  threads: number;
  /** Expert shares (main thread + worker threads, {@link ComputeOptions.expertWorkers}); 0 = off. */
  expertWorkers: number;
  /** How the experts ran (--experts). */
  experts: ExpertMode;
  batch: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** Process CPU time per decode step (all threads), ms: what other processes on the machine do not inflate. */
  decodeCpuMsPerStep: number;
  /** Weight bytes read per generated token at this batch (attention, routers, norms, the experts the batch touches, the head). */
  weightBytesPerToken: number;
  /** bandwidth ÷ weightBytesPerToken, tokens/s. */
  roofTokensPerSecond: number;
  /** decode ÷ roof. */
  roofFraction: number;
  /** Every rep's prefill and decode tokens/s, in rep order (with --compare, the builds' order is reversed in odd reps; with --keep-context, the one prefill). */
  prefillSamples: number[];
  decodeSamples: number[];
  /** With --compare, this build's rows: decode (prefill) tokens/s ÷ the compare build's, same variant, threads and batch (bests). */
  decodeVsCompare?: number;
  prefillVsCompare?: number;
  /**
   * With --compare: this ÷ compare from the reps, the effect of going first cancelled (bench/stats.ts
   * `alternatedRatio`: the median over pairs of reps, one with each build first, of the pair's geometric mean).
   */
  decodeVsCompareMedian?: number;
  prefillVsCompareMedian?: number;
}

const USAGE = benchUsage("engine");

function list(v: string | undefined, d: number[]): number[] {
  if (v === undefined) return d;
  const xs = v.split(",").map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`expected a comma-separated list of positive integers, got '${v}'\n${USAGE}`);
  return xs;
}

/** Measure one model file in every variant × thread count, interleaved. */
async function benchModel(
  path: string,
  o: { threads: number[]; expertWorkers: number[]; experts: ExpertMode[]; batches: number[]; prompt: number; steps: number; reps: number; variants: Variant[]; bandwidth: BandwidthBest; session: SessionFlags; compare?: typeof Engine; keepContext?: boolean },
): Promise<EngineBenchRow[]> {
  const m = openModel(path);
  const cfg = m.config;
  const q8 = m.weights.info("blk.0.attn_q.weight").dtype === "Q8_0";
  const variants = o.variants.filter((v) => (q8 ? v !== "f32" : v === "f32"));
  const engines: { variant: Variant; threads: number; ew: number; ex: ExpertMode; build: "this" | "compare"; engine: Engine }[] = [];
  const kept = new Map<string, { live: LiveBatch; prefill: number }>(); // --keep-context: by engine index / batch
  try {
    for (const variant of variants)
      for (const threads of o.threads)
        for (const ew of o.expertWorkers)
          for (const ex of o.experts) {
            // worker threads run one session per expert; the parallel executor needs threads > 1
            if ((ew > 1 && ex !== o.experts[0]) || (ex === "layer-par" && threads < 2)) continue;
            const opts = computeOf(variant, threads, o.session, ew, ex);
            engines.push({ variant, threads, ew, ex, build: "this", engine: await Engine.create(cfg, m.weights, opts) });
            if (o.compare) engines.push({ variant, threads, ew, ex, build: "compare", engine: await o.compare.create(cfg, m.weights, opts) });
          }
    // warm-up of every engine at the measured sizes (a short one left the first rep's batch-16 prefill slow);
    // --keep-context: the warm-up's prefill is the one measured, its sequences stay live for every rep's decode
    for (const e of engines)
      for (const [i, batch] of o.batches.entries()) {
        if (!o.keepContext) {
          await measure(e.engine, batch, o.prompt, Math.min(o.steps, 4));
          continue;
        }
        const p = await prefillBatch(e.engine, batch, o.prompt, i * 100_000);
        kept.set(`${engines.indexOf(e)}/${batch}`, p);
        await decodeBatch(e.engine, p.live, Math.min(o.steps, 4));
      }
    const best = new Map<string, EngineBenchRow>();
    for (let rep = 0; rep < o.reps; rep++) {
      await o.bandwidth.measure();
      // odd reps run the engines in reverse order: neither build always goes first (after the bandwidth
      // measurement, and before the other build of its pair)
      for (const e of rep % 2 ? [...engines].reverse() : engines)
        for (const batch of o.batches) {
          const k = kept.get(`${engines.indexOf(e)}/${batch}`);
          const r = k ? { prefill: k.prefill, ...(await decodeBatch(e.engine, k.live, o.steps)) } : await measure(e.engine, batch, o.prompt, o.steps);
          const key = `${e.build}/${e.variant}/${e.threads}/${e.ew}/${e.ex}/${batch}`;
          const old = best.get(key);
          const bytes = bytesPerStep(cfg, e.variant === "int8" || e.variant === "exact" ? "q8_0" : "f32", batch) / batch;
          best.set(key, {
            model: cfg.name,
            build: e.build,
            variant: e.variant,
            threads: e.threads,
            expertWorkers: e.ew,
            experts: e.ex,
            batch,
            prefillTokensPerSecond: Math.max(old?.prefillTokensPerSecond ?? 0, r.prefill),
            decodeTokensPerSecond: Math.max(old?.decodeTokensPerSecond ?? 0, r.decode),
            decodeCpuMsPerStep: Math.min(old?.decodeCpuMsPerStep ?? Infinity, r.cpuMs),
            weightBytesPerToken: bytes,
            roofTokensPerSecond: 0,
            roofFraction: 0,
            prefillSamples: k ? [k.prefill] : [...(old?.prefillSamples ?? []), r.prefill], // --keep-context: the one (cold) prefill
            decodeSamples: [...(old?.decodeSamples ?? []), r.decode],
          });
        }
    }
    // the roof from the best bandwidth seen so far (measured between the reps, like the engines: best of all)
    const bw = o.bandwidth.best();
    const rows = [...best.values()].map((r) => ({ ...r, roofTokensPerSecond: bw / r.weightBytesPerToken, roofFraction: (r.decodeTokensPerSecond * r.weightBytesPerToken) / bw }));
    for (const r of rows) {
      const c = best.get(`compare/${r.variant}/${r.threads}/${r.expertWorkers}/${r.experts}/${r.batch}`);
      if (r.build !== "this" || !c) continue;
      r.decodeVsCompare = r.decodeTokensPerSecond / c.decodeTokensPerSecond;
      r.prefillVsCompare = r.prefillTokensPerSecond / c.prefillTokensPerSecond;
      r.decodeVsCompareMedian = alternatedRatio(r.decodeSamples, c.decodeSamples);
      r.prefillVsCompareMedian = alternatedRatio(r.prefillSamples, c.prefillSamples);
    }
    return rows;
  } finally {
    for (const e of engines) {
      for (const batch of o.batches) e.engine.core.release(kept.get(`${engines.indexOf(e)}/${batch}`)?.live.seqs ?? []);
      await e.engine.close();
    }
    m.close();
  }
}

export async function run(args: string[] = []): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: "string", multiple: true },
      threads: { type: "string" },
      batches: { type: "string" },
      prompt: { type: "string" },
      steps: { type: "string" },
      reps: { type: "string" },
      variants: { type: "string" },
      compare: { type: "string" },
      spin: { type: "boolean" },
      "single-thread-rows": { type: "string" },
      "expert-workers": { type: "string" },
      experts: { type: "string" },
      json: { type: "boolean" },
      "keep-context": { type: "boolean" },
    },
    strict: true,
  });
  const threads = list(values.threads, [1, 2]);
  const variants = (values.variants ?? "f32,int8,exact").split(",") as Variant[];
  const bad = variants.find((v) => !["f32", "int8", "exact", "dequantize"].includes(v));
  if (bad) throw new Error(`unknown variant '${bad}': choose from f32, int8, exact, dequantize\n${USAGE}`);
  const paths = values.model ?? ["grok-1-tiny", "grok-shaped"].flatMap((n) => [ensureBenchModel(n, "f32"), ensureBenchModel(n, "q8_0")]);
  const bandwidth = new BandwidthBest(threads);
  const compare = values.compare === undefined ? undefined : await loadCompareBuild(values.compare);
  const strows = values["single-thread-rows"];
  if (strows !== undefined && !/^\d+$/.test(strows)) throw new Error(`--single-thread-rows takes a non-negative integer, got '${strows}'\n${USAGE}`);
  const session: SessionFlags = { ...(values.spin ? { spinning: true } : {}), ...(strows !== undefined ? { singleThreadRows: Number(strows) } : {}) };
  const ewFlag = values["expert-workers"];
  if (ewFlag !== undefined && !/^\d+(,\d+)*$/.test(ewFlag)) throw new Error(`--expert-workers takes a comma-separated list of non-negative integers, got '${ewFlag}'\n${USAGE}`);
  const expertWorkers = ewFlag === undefined ? [0] : ewFlag.split(",").map(Number);
  const experts = (values.experts ?? "layer").split(",") as ExpertMode[];
  const badMode = experts.find((x) => !EXPERT_MODES.includes(x));
  if (badMode) throw new Error(`unknown --experts '${badMode}': choose from ${EXPERT_MODES.join(", ")}\n${USAGE}`);
  const o = { compare, session, threads, expertWorkers, experts, batches: list(values.batches, [1, 16]), prompt: list(values.prompt, [128])[0]!, steps: list(values.steps, [32])[0]!, reps: list(values.reps, [3])[0]!, variants, bandwidth, keepContext: values["keep-context"] === true };
  const rows: EngineBenchRow[] = [];
  for (const p of paths) {
    const r = await benchModel(p, o);
    rows.push(...r);
    if (!values.json) print(p, r);
  }
  const bwReport = bandwidth.report();
  const roofGBs = +(bandwidth.best() / 1e9).toFixed(2);
  if (values.json) console.log(JSON.stringify({ bandwidth: bwReport, roofGBs, prompt: o.prompt, steps: o.steps, reps: o.reps, keepContext: o.keepContext, rows }, null, 1));
  else
    console.log(
      `read bandwidth (onnxruntime ReduceSum over 256 MiB, best between reps): ${bwReport.map((b) => `${b.readGBs} GB/s at ${b.threads} thread(s)`).join(", ")}; roof = ${roofGBs} GB/s`,
    );
}

function print(path: string, rows: readonly EngineBenchRow[]): void {
  console.log(`\n${rows[0]?.model ?? path} (${path})`);
  console.log("build    variant     threads  ew experts    batch  prefill tok/s  decode tok/s  CPU ms/step  weight MB/token  roof tok/s  of roof  vs compare: bests (prefill, decode)");
  for (const r of rows)
    console.log(
      [
        r.build.padEnd(8),
        r.variant.padEnd(11),
        String(r.threads).padStart(7),
        String(r.expertWorkers).padStart(3),
        r.experts.padEnd(10),
        String(r.batch).padStart(5),
        r.prefillTokensPerSecond.toFixed(0).padStart(14),
        r.decodeTokensPerSecond.toFixed(1).padStart(13),
        r.decodeCpuMsPerStep.toFixed(2).padStart(12),
        (r.weightBytesPerToken / 1e6).toFixed(2).padStart(16),
        r.roofTokensPerSecond.toFixed(0).padStart(11),
        r.roofFraction.toFixed(2).padStart(8),
        r.decodeVsCompare === undefined ? "" : `  ${r.prefillVsCompare!.toFixed(2)}, ${r.decodeVsCompare.toFixed(2)} (paired reps ${r.prefillVsCompareMedian!.toFixed(2)}, ${r.decodeVsCompareMedian!.toFixed(2)})`,
      ].join(" "),
    );
}
