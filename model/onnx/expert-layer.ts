/**
 * Several experts of one layer as ONE ONNX graph, run once per layer per step.
 *
 * Inputs: x [N, D] (the rows of each expert slot in turn, gathered by the caller: slot 0's rows, then slot
 * 1's, …) and counts int64 [S] (how many of x's rows are slot i's: n_i ≥ 0, Σ n_i = N). Split(x, counts)
 * gives each slot its rows; per slot the same FFN subgraph as the one-expert graph ({@link expertFfn}) →
 * y_i [n_i, D]; output y [N, D] = Concat(y_0, …, y_{S−1}), row j of y for row j of x. Each expert sees the
 * same ops on the same shapes as in its own session, so its rows are bit-identical; the slots are
 * independent branches, which onnxruntime's parallel executor can run on different cores within one run.
 * One input of rows and one output (not one per expert) keep the per-run cost of the JS binding flat; the
 * rows come gathered (a copy in the caller) rather than as indices into x, which would cost a Gather node
 * per expert in every run, experts without rows included (≈ 1 µs a node at decode).
 */
import { Elem, GraphBuilder, type BuiltGraph } from "./builder.js";
import { expertFfn, type ExpertWeights } from "./expert.js";
import type { LinearOptions } from "./linear.js";

/** Build the graph of the experts `experts` (slot i = experts[i]; all of one width D). */
export function buildExpertLayerGraph(experts: readonly ExpertWeights[], opts: LinearOptions = {}): BuiltGraph {
  if (experts.length === 0) throw new Error("buildExpertLayerGraph: no experts");
  const D = experts[0]!.gate.in;
  if (experts.some((w) => w.gate.in !== D || w.down.out !== D)) throw new Error("buildExpertLayerGraph: experts differ in model width");
  const g = new GraphBuilder("expert_layer");
  const x = g.input("x", Elem.FLOAT, ["N", D]);
  const counts = g.input("counts", Elem.INT64, [experts.length]);
  const parts = experts.length === 1 ? [x] : g.opN("Split", [x, counts], experts.length, { axis: 0 });
  const ys = experts.map((w, i) => expertFfn(g, parts[i]!, w, opts));
  g.output("y", ys.length === 1 ? ys[0]! : g.op("Concat", ys, { axis: 0 }), Elem.FLOAT, ["N", D]);
  return g.build();
}
