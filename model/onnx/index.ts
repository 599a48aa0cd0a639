// model/onnx: ONNX graphs of the compute blocks, built in TypeScript.
export { GraphBuilder, Elem, embedExternal, type BuiltGraph, type ExternalInitializer, type GraphWeightInput, type TensorOptions } from "./builder.js";
export { concatRows, DEFAULT_MAX_INITIALIZER_BYTES, linear, linearShared, splitLast, transpose, q8_0ToNBits, type LinearWeight, type LinearOptions, type Q8Mode } from "./linear.js";
export { buildAttentionGraph, type AttentionWeights } from "./attention.js";
export { buildExpertGraph, expertFfn, type ExpertWeights } from "./expert.js";
export { buildExpertLayerGraph } from "./expert-layer.js";
export { buildHeadGraph, buildLogitStatsGraph, logitStats, type HeadWeights } from "./head.js";
