/**
 * One expert FFN as an ONNX graph: y = W_down (gelu_tanh(W_gate x) ⊙ W_up x).
 * Input x [R, D] (the pre-MoE normed rows routed to this expert); output y [R, D].
 * f32 weights use MatMul, Q8_0 weights MatMulNBits (bits 8, block 32); gate and
 * up are one matmul ([2F, D] stacked weights).
 */
import { Elem, GraphBuilder, type BuiltGraph } from "./builder.js";
import { linear, linearShared, type LinearOptions, type LinearWeight } from "./linear.js";
import { geluTanh } from "./ops.js";

/** The three matrices of one expert, each [out, in]: gate/up [F, D], down [D, F]. */
export interface ExpertWeights {
  readonly gate: LinearWeight;
  readonly up: LinearWeight;
  readonly down: LinearWeight;
}

/**
 * Emit one expert's FFN on the value `x` [R, D] (2-D) of `g`; returns y [R, D]. The one subgraph of both
 * the one-expert graph and the layer-of-experts graph (model/onnx/expert-layer.ts): same ops, same
 * shapes per expert, so the same kernels and the same numbers.
 */
export function expertFfn(g: GraphBuilder, x: string, w: ExpertWeights, opts: LinearOptions = {}): string {
  // x is 2-D: an f32 Gemm needs no reshaping around it (8 nodes fewer per expert in every run)
  const [gate, up] = linearShared(g, x, [w.gate, w.up], "w_gate_up", opts, true);
  const hidden = g.op("Mul", [geluTanh(g, gate!, "gelu"), up!]);
  return linear(g, hidden, w.down, "w_down", opts, true);
}

/** Build the serialized graph of one expert. */
export function buildExpertGraph(w: ExpertWeights, opts: LinearOptions = {}): BuiltGraph {
  const D = w.gate.in;
  const g = new GraphBuilder("expert");
  const x = g.input("x", Elem.FLOAT, ["R", D]);
  g.output("y", expertFfn(g, x, w, opts), Elem.FLOAT, ["R", w.down.out]);
  return g.build();
}
