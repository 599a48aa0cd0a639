/**
 * What `moe bench engine` (and `bench llama`, for this project's side) measures with: the engine's compute
 * options per variant, the bench prompts, one prefill + greedy decode run ({@link measure}), the weight
 * bytes a step reads and the best read bandwidth seen ({@link BandwidthBest}): the roof.
 */
import { accountModel, stepRows, type ComputeOptions, type Engine, type ModelConfig, type RowItem } from "../model/index.js";
import { readBandwidth } from "./bandwidth.js";

/** How an engine's weights run: f32 files as f32; Q8_0 with int8 activations, on the exact 8-bit path, or dequantized to f32. */
export type Variant = "f32" | "int8" | "exact" | "dequantize";

/**
 * How the experts run ({@link ComputeOptions.expertSessions}, {@link ComputeOptions.expertExecutor}): "expert", one session per
 * expert (the previous engine); "layer", one session per layer, sequential executor; "layer-par", one per layer, onnxruntime's
 * parallel executor (the same as "layer" at one thread, so measured only at threads > 1).
 */
export type ExpertMode = "expert" | "layer" | "layer-par";
export const EXPERT_MODES: readonly ExpertMode[] = ["expert", "layer", "layer-par"];

/** Weight bytes one decode step reads at batch B, as the engine stores them. */
export function bytesPerStep(cfg: ModelConfig, dtype: "f32" | "q8_0", batch: number): number {
  const acc = accountModel(cfg, dtype);
  const distinct = cfg.nExperts * (1 - Math.pow(1 - cfg.nExpertsUsed / cfg.nExperts, batch));
  const perLayer = acc.layers.reduce((a, l) => a + l.attentionBytes + l.routerBytes + l.normBytes + distinct * l.expertBytes, 0);
  return perLayer + acc.embeddingBytes + acc.outputBytes + acc.finalNormBytes;
}

/** Session settings of every engine: --spin, --single-thread-rows. */
export interface SessionFlags {
  readonly spinning?: boolean;
  readonly singleThreadRows?: number;
}

/** The compute options of an engine of variant `v` at `threads` threads, with `s`, `expertWorkers` expert shares (0 = off) and experts run as `experts`. */
export function computeOf(v: Variant, threads: number, s: SessionFlags, expertWorkers = 0, experts: ExpertMode = "layer"): ComputeOptions {
  const how: ComputeOptions = experts === "expert" ? { expertSessions: "expert" } : { expertSessions: "layer", expertExecutor: experts === "layer-par" ? "parallel" : "sequential" };
  return { threads, exactQ8: v === "exact", dequantizeQ8: v === "dequantize", ...s, ...how, ...(expertWorkers > 1 ? { expertWorkers } : {}) };
}

/** The bench's prompt `b` of `length` token ids (spread over the vocabulary of `vocabSize`, skipping ids 0–3). */
export function benchPrompt(vocabSize: number, length: number, b = 0): number[] {
  return Array.from({ length }, (_, i) => 4 + ((b * 7919 + i * 104729) % (vocabSize - 4)));
}

/** A batch of sequences live in an engine between bench steps: the last token each sampled, the next position. */
export interface LiveBatch {
  readonly seqs: readonly number[];
  readonly last: Map<number, number>;
  pos: number;
  /** The tokens the first sequence generated so far. */
  readonly first: number[];
}

/** Run one engine step of `items`, recording each sequence's sampled token. */
async function stepLive(engine: Engine, live: LiveBatch, items: RowItem[]): Promise<void> {
  for (const s of (await engine.step(stepRows(items))).sampled ?? []) {
    live.last.set(s.seq, s.token);
    if (s.seq === live.seqs[0]) live.first.push(s.token);
  }
}

/** Prefill `batch` prompts of `prompt` tokens in one step (sequences seqBase+1 …); prefill tokens/s. */
export async function prefillBatch(engine: Engine, batch: number, prompt: number, seqBase = 0): Promise<{ live: LiveBatch; prefill: number }> {
  const V = engine.config.vocabSize;
  const live: LiveBatch = { seqs: Array.from({ length: batch }, (_, b) => seqBase + b + 1), last: new Map(), pos: prompt, first: [] };
  const t0 = performance.now();
  await stepLive(engine, live, live.seqs.map((seq, b) => ({ seq, pos: 0, tokens: benchPrompt(V, prompt, b), prompt: true })));
  return { live, prefill: (batch * prompt) / ((performance.now() - t0) / 1000) };
}

/** `steps` greedy decode steps of a live batch; tokens/s and CPU ms per step. */
export async function decodeBatch(engine: Engine, live: LiveBatch, steps: number): Promise<{ decode: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let s = 0; s < steps; s++, live.pos++) await stepLive(engine, live, live.seqs.map((seq) => ({ seq, pos: live.pos, tokens: [live.last.get(seq)!] })));
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { decode: (live.seqs.length * steps) / wall, cpuMs: (c.user + c.system) / 1000 / steps };
}

/**
 * Prefill `batch` prompts of `prompt` tokens in one step, then `steps` greedy decode steps, as
 * `moe generate` runs them (head, then sampling: the logits never leave the engine); tokens/s, CPU ms
 * per step, and the tokens the first sequence generated (steps + 1: the prefill's, then each step's).
 */
export async function measure(engine: Engine, batch: number, prompt: number, steps: number): Promise<{ prefill: number; decode: number; cpuMs: number; tokens: number[] }> {
  let live: LiveBatch | undefined;
  try {
    const p = await prefillBatch(engine, batch, prompt);
    live = p.live;
    const d = await decodeBatch(engine, live, steps);
    return { prefill: p.prefill, ...d, tokens: live.first };
  } finally {
    engine.core.release(live?.seqs ?? Array.from({ length: batch }, (_, b) => b + 1));
  }
}

/** The best read bandwidth measured so far, per thread count (re-measured between reps: a shared machine's varies). */
export class BandwidthBest {
  private readonly seen = new Map<number, number>();
  constructor(private readonly threads: readonly number[]) {}
  async measure(): Promise<void> {
    for (const b of await readBandwidth(this.threads)) this.seen.set(b.threads, Math.max(this.seen.get(b.threads) ?? 0, b.bytesPerSecond));
  }
  /** The best over every thread count, bytes/s: the roof. */
  best(): number {
    return Math.max(...this.seen.values());
  }
  /** The best at `threads` threads, bytes/s (0 before the first measure). */
  at(threads: number): number {
    return this.seen.get(threads) ?? 0;
  }
  report(): { threads: number; readGBs: number }[] {
    return [...this.seen].map(([threads, b]) => ({ threads, readGBs: +(b / 1e9).toFixed(2) }));
  }
}
