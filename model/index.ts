// model: the Grok-1 family — config and presets, accounting, weight readers,
// tokenizer, ONNX graph builders, compute blocks and the single-process engine.
export * from "./config.js";
export * from "./errors.js";
export * from "./accounting.js";
export * from "./weights/index.js";
export * from "./dtype.js";
export * from "./generate-tiny.js";
export * from "./gating.js";
export * from "./sampling.js";
export * from "./onnx/index.js";
export * from "./blocks/index.js";
export * from "./engine/index.js";
export * from "./load.js";
export * from "./tokenizer/index.js";
