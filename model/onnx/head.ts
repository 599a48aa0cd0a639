/**
 * Final norm and (tied) unembedding as an ONNX graph:
 * logits = W_unembed (rms(x)·output_norm) · logitScale.
 * Input x [R, D] (last hidden state of each sequence); output logits [R, V].
 */
import type { ModelConfig } from "../config.js";
import { Elem, GraphBuilder, type BuiltGraph } from "./builder.js";
import { linear, type LinearOptions, type LinearWeight } from "./linear.js";
import { rmsNorm } from "./ops.js";

/** Weights of the head: final norm gain [D] and the unembedding [V, D] (token_embd when tied). */
export interface HeadWeights {
  readonly outputNorm: Float32Array;
  readonly unembed: LinearWeight;
}

/**
 * Build the serialized head graph. With `withStats` (default) it also outputs, per row, the logits'
 * largest and smallest value (`max`, `min` [R]) and their log-sum-exp (`lse` [R], f32: max + log Σ
 * exp(logit − max)), which sampling would otherwise compute in script over all V logits (vectorized
 * here: a few tens of µs at V = 131072 against about 1 ms in script). onnxruntime computes every node
 * of a graph whatever outputs a run fetches, so a caller that does not always need them builds the
 * head without (`withStats` false) and runs {@link buildLogitStatsGraph} on the logits when it does:
 * the same values, bit for bit.
 */
export function buildHeadGraph(cfg: ModelConfig, w: HeadWeights, opts: LinearOptions = {}, withStats = true): BuiltGraph {
  const g = new GraphBuilder("head");
  const x = g.input("x", Elem.FLOAT, ["R", cfg.dModel]);
  const z = rmsNorm(g, x, w.outputNorm, cfg.rmsEps, "output_norm");
  const logits = g.op("Mul", [linear(g, z, w.unembed, "unembed", opts, true), g.scalar("logit_scale", cfg.logitScale)]);
  g.output("logits", logits, Elem.FLOAT, ["R", w.unembed.out]);
  if (withStats) logitStats(g, logits);
  return g.build();
}

/** A graph of the statistics alone: logits [R, V] in; `max`, `min`, `lse` [R] out (see {@link buildHeadGraph}). */
export function buildLogitStatsGraph(vocabSize: number): BuiltGraph {
  const g = new GraphBuilder("logit_stats");
  logitStats(g, g.input("logits", Elem.FLOAT, ["R", vocabSize]));
  return g.build();
}

/** Outputs `max`, `min` and `lse` [R] of logits [R, V] (see {@link buildHeadGraph}). */
export function logitStats(g: GraphBuilder, logits: string): void {
  const max = g.op("ReduceMax", [logits], { axes: [1], keepdims: 1 }); // [R, 1]
  const sum = g.op("ReduceSum", [g.op("Exp", [g.op("Sub", [logits, max])]), g.i64("lse_axes", [1])], { keepdims: 0 }); // [R]
  const max1 = g.op("Squeeze", [max, g.i64("max_axes", [1])]);
  g.output("max", max1, Elem.FLOAT, ["R"]);
  g.output("min", g.op("ReduceMin", [logits], { axes: [1], keepdims: 0 }), Elem.FLOAT, ["R"]);
  g.output("lse", g.op("Add", [max1, g.op("Log", [sum])]), Elem.FLOAT, ["R"]);
}
