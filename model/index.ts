// model: the Grok-1 family — config and presets, accounting, weight readers,
// tokenizer, ONNX graph builders, compute blocks and the single-process engine.
export * from "./config.js";
export * from "./errors.js";
export * from "./accounting.js";
export type { WeightDType, TensorInfo, RawTensor, WeightReader } from "./weights/types.js";
