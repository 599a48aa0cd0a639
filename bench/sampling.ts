/**
 * `npm run bench -- sampling`: milliseconds per sampled token at V = 131072 (Grok-1's vocabulary)
 * for greedy, temperature + top-p, top-k, min-p, penalties and top_logprobs, on logits of three
 * shapes (peaked like a trained model's, moderately spread, nearly flat like an untrained model's).
 */
import { Sampler, type SamplingParams } from "../model/index.js";

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
function cpuMsPerToken(s: Sampler, rows: readonly Float32Array[], reps: number): number {
  for (let k = 0; k < 20; k++) s.sample(rows[k % rows.length]!); // warm-up
  const c0 = process.cpuUsage();
  for (let k = 0; k < reps; k++) s.sample(rows[k % rows.length]!);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / reps;
}

export async function run(): Promise<void> {
  const shapes = [
    ["peaked (σ 3)", 3],
    ["spread (σ 1)", 1],
    ["flat (σ 0.05)", 0.05],
  ] as const;
  const rows = shapes.map(([, scale]) => Array.from({ length: 8 }, (_, i) => logits(i + 1, scale)));
  console.log(`V = ${V}; CPU ms per sampled token (process CPU time over 200 draws after 20 warm-up; other processes on the machine do not count), one thread`);
  console.log(["setting".padEnd(38), ...shapes.map(([name]) => name.padStart(15))].join(""));
  for (const [name, p] of SETTINGS) {
    const cells = rows.map((rs) => {
      const s = new Sampler({ ...p, seed: 1 });
      s.observePrompt(Array.from({ length: 512 }, (_, i) => (i * 257) % V));
      return cpuMsPerToken(s, rs, 200);
    });
    console.log([name.padEnd(38), ...cells.map((c) => c.toFixed(3).padStart(15))].join(""));
  }
}
