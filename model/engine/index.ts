// model/engine: layer stacks, in-process MoE and the single-process engine.
export { Engine, type EngineSequence, type ForwardItem } from "./engine.js";
export { LayerStack, type MoeExecutor, type StackItem } from "./layer-stack.js";
export { LocalMoe } from "./local-moe.js";
export { generate, type GenerationOptions, type FinishReason } from "./generate.js";
