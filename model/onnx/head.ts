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

/** Build the serialized head graph. */
export function buildHeadGraph(cfg: ModelConfig, w: HeadWeights, opts: LinearOptions = {}): BuiltGraph {
  const g = new GraphBuilder("head");
  const x = g.input("x", Elem.FLOAT, ["R", cfg.dModel]);
  const z = rmsNorm(g, x, w.outputNorm, cfg.rmsEps, "output_norm");
  const logits = g.op("Mul", [linear(g, z, w.unembed, "unembed", opts), g.scalar("logit_scale", cfg.logitScale)]);
  g.output("logits", logits, Elem.FLOAT, ["R", w.unembed.out]);
  return g.build();
}
