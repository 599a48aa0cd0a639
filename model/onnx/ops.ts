/** Composite ops shared by the block graphs (all f32). */
import type { GraphBuilder } from "./builder.js";

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · gain; gain [D]. */
export function rmsNorm(g: GraphBuilder, x: string, gain: Float32Array, eps: number, prefix: string): string {
  const sq = g.op("Mul", [x, x]);
  const ms = g.op("ReduceMean", [sq], { axes: [-1], keepdims: 1 });
  const den = g.op("Sqrt", [g.op("Add", [ms, g.scalar(`${prefix}_eps`, eps)])]);
  const y = g.op("Div", [x, den]);
  return g.op("Mul", [y, g.f32(`${prefix}_gain`, gain, [gain.length])]);
}

/** Exact tanh-form GELU: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluTanh(g: GraphBuilder, x: string, prefix: string): string {
  const x3 = g.op("Mul", [g.op("Mul", [x, x]), x]);
  const inner = g.op("Add", [x, g.op("Mul", [x3, g.scalar(`${prefix}_c`, 0.044715)])]);
  const t = g.op("Tanh", [g.op("Mul", [inner, g.scalar(`${prefix}_k`, Math.sqrt(2 / Math.PI))])]);
  const onePlus = g.op("Add", [t, g.scalar(`${prefix}_one`, 1)]);
  return g.op("Mul", [g.op("Mul", [x, g.scalar(`${prefix}_half`, 0.5)]), onePlus]);
}

/** c·tanh(x/c); identity when c is 0. */
export function softcap(g: GraphBuilder, x: string, c: number, prefix: string): string {
  if (c === 0) return x;
  return g.op("Mul", [g.op("Tanh", [g.op("Div", [x, g.scalar(`${prefix}_c`, c)])]), g.scalar(`${prefix}_c2`, c)]);
}
