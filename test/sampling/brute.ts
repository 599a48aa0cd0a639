/** Brute-force reference of the sampling masks: a full sort, the textbook definitions, f64 Math.exp. */
import type { SamplingParams } from "../../model/index.js";

/** Tokens kept by temperature → top-k → min-p → top-p, ascending, with renormalised probabilities. */
export function bruteSupport(logits: Float32Array, p: SamplingParams): { tokens: number[]; probs: number[] } {
  const n = logits.length;
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const w = Array.from(logits, (v) => Math.exp((v - max) / p.temperature));
  let order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (p.topK) order = order.slice(0, p.topK);
  if (p.minP) order = order.filter((i) => w[i]! / w[order[0]!]! >= p.minP!);
  if (p.topP < 1) {
    const mass = order.reduce((a, i) => a + w[i]!, 0);
    let cum = 0;
    let keep = 0;
    while (keep < order.length && cum < p.topP * mass) cum += w[order[keep++]!]!;
    order = order.slice(0, keep);
  }
  const tokens = [...order].sort((a, b) => a - b);
  const z = tokens.reduce((a, i) => a + w[i]!, 0);
  return { tokens, probs: tokens.map((i) => w[i]! / z) };
}

/** Seeded logits: Gaussian-ish values × scale (sum of uniforms), as f32. */
export function randomLogits(n: number, seed: number, scale = 3): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return Float32Array.from({ length: n }, () => (u() + u() + u() + u() - 2) * scale);
}

/** Pearson chi-square statistic of observed counts against expected probabilities. */
export function chiSquare(counts: readonly number[], probs: readonly number[], draws: number): number {
  return counts.reduce((a, o, i) => a + (o - probs[i]! * draws) ** 2 / (probs[i]! * draws), 0);
}

/** Upper 0.1 % point of the chi-square distribution with df degrees of freedom (Wilson–Hilferty; within 1 % for df ≥ 2). */
export function chiSquareCritical001(df: number): number {
  const z = 3.0902; // standard normal upper 0.1 % point
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}
