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

/** Build the serialized graph of one expert. */
export function buildExpertGraph(w: ExpertWeights, opts: LinearOptions = {}): BuiltGraph {
  const D = w.gate.in;
  const g = new GraphBuilder("expert");
  const x = g.input("x", Elem.FLOAT, ["R", D]);
  const [gate, up] = linearShared(g, x, [w.gate, w.up], "w_gate_up", opts);
  const hidden = g.op("Mul", [geluTanh(g, gate!, "gelu"), up!]);
  const y = linear(g, hidden, w.down, "w_down", opts);
  g.output("y", y, Elem.FLOAT, ["R", w.down.out]);
  return g.build();
}
