/**
 * `npm run bench -- sampling`: milliseconds per sampled token at V = 131072 (Grok-1's vocabulary)
 * for greedy, temperature + top-p, top-k, min-p, penalties and top_logprobs, on logits of three
 * shapes (peaked like a trained model's, moderately spread, nearly flat like an untrained model's):
 * the sampler alone on the logits, and as the engine runs it, given the head graph's per-row max,
 * min and log-sum-exp; plus what computing those costs onnxruntime (the same ops on [1, V] logits).
 */
import * as ort from "onnxruntime-node";
import { Elem, GraphBuilder, logitStats, Sampler, sessionOptions, type LogitStats, type SamplingParams } from "../model/index.js";

const V = 131072;

function logits(seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const u = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  // Gaussian-ish values; a few hundred "plausible" tokens get a boost, as in a trained model's output
  const l = Float32Array.from({ length: V }, () => (u() + u() + u() + u() - 2) * scale);
  for (let k = 0; k < 300; k++) l[Math.floor(u() * V)]! += scale * 4 * u();
  return l;
}

const SETTINGS: [string, SamplingParams][] = [
  ["greedy", { temperature: 0, topP: 1 }],
  ["T=1", { temperature: 1, topP: 1 }],
  ["T=0.7 top-p 0.9", { temperature: 0.7, topP: 0.9 }],
  ["T=1 top-p 0.95", { temperature: 1, topP: 0.95 }],
  ["T=0.8 top-k 40", { temperature: 0.8, topP: 1, topK: 40 }],
  ["T=1 min-p 0.05", { temperature: 1, topP: 1, minP: 0.05 }],
  ["T=0.7 top-p 0.9 + penalties + bias", { temperature: 0.7, topP: 0.9, presencePenalty: 0.5, frequencyPenalty: 0.5, repetitionPenalty: 1.1, logitBias: new Map([[5, 2], [77, -100]]) }],
  ["T=0.7 top-p 0.9 + top_logprobs 20", { temperature: 0.7, topP: 0.9, topLogprobs: 20 }],
];

/** CPU milliseconds per sample() (process user+system time over `reps` calls: insensitive to other processes on a shared machine). */
function cpuMsPerToken(s: Sampler, rows: readonly Float32Array[], reps: number, stats?: readonly LogitStats[]): number {
  const one = (k: number) => (stats ? s.sample(rows[k % rows.length]!, 0, V, stats[k % rows.length]!) : s.sample(rows[k % rows.length]!));
  for (let k = 0; k < 20; k++) one(k); // warm-up
  const c0 = process.cpuUsage();
  for (let k = 0; k < reps; k++) one(k);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / reps;
}

/** Each row's max, min and log-sum-exp, computed by onnxruntime as the head graph does; and its CPU ms per row. */
async function graphStats(rows: readonly Float32Array[]): Promise<{ stats: LogitStats[]; cpuMs: number }> {
  const g = new GraphBuilder("logit_stats");
  logitStats(g, g.input("logits", Elem.FLOAT, ["R", V]));
  const s = await ort.InferenceSession.create(g.toBytes(), sessionOptions({ threads: 1 }));
  try {
    const stats: LogitStats[] = [];
    for (const r of rows) {
      const o = await s.run({ logits: new ort.Tensor("float32", r, [1, V]) });
      stats.push({ max: (o.max!.data as Float32Array)[0]!, min: (o.min!.data as Float32Array)[0]!, lse: (o.lse!.data as Float32Array)[0]! });
    }
    const reps = 200;
    const c0 = process.cpuUsage();
    for (let k = 0; k < reps; k++) await s.run({ logits: new ort.Tensor("float32", rows[k % rows.length]!, [1, V]) });
    const c = process.cpuUsage(c0);
    return { stats, cpuMs: (c.user + c.system) / 1000 / reps };
  } finally {
    await s.release();
  }
}

export async function run(): Promise<void> {
  const shapes = [
    ["peaked (σ 3)", 3],
    ["spread (σ 1)", 1],
    ["flat (σ 0.05)", 0.05],
  ] as const;
  const rows = shapes.map(([, scale]) => Array.from({ length: 8 }, (_, i) => logits(i + 1, scale)));
  const stats = await Promise.all(rows.map((rs) => graphStats(rs)));
  console.log(`V = ${V}; CPU ms per sampled token (process CPU time over 200 draws after 20 warm-up; other processes on the machine do not count), one thread`);
  console.log("alone: the sampler on the logits; engine: given the head graph's max, min and log-sum-exp of the row");
  console.log(["setting".padEnd(38), ...shapes.flatMap(([name]) => [`${name} alone`.padStart(22), "engine".padStart(8)])].join(""));
  for (const [name, p] of SETTINGS) {
    const cells = rows.flatMap((rs, k) =>
      [undefined, stats[k]!.stats].map((st) => {
        const s = new Sampler({ ...p, seed: 1 });
        s.observePrompt(Array.from({ length: 512 }, (_, i) => (i * 257) % V));
        return cpuMsPerToken(s, rs, 200, st);
      }),
    );
    console.log([name.padEnd(38), ...cells.map((c, i) => c.toFixed(3).padStart(i % 2 ? 8 : 22))].join(""));
  }
  console.log(`the statistics in onnxruntime (a graph of their ops alone on [1, ${V}] logits, run overhead included): ${stats.map((s) => s.cpuMs.toFixed(3)).join(" / ")} CPU ms per row`);
}
