// model/engine: the layer-range engine core, layer stacks, in-process MoE and the single-process engine.
export { LayerRangeEngine, type CoreOptions, type SampledRow, type StepOutput } from "./core.js";
export { Engine, type EngineOptions, type EngineSequence, type ForwardItem } from "./engine.js";
export { LayerStack, type MoeExecutor, type StackItem } from "./layer-stack.js";
export { ExpertWorkerError, ExpertWorkers } from "./expert-workers.js";
export { LocalMoe } from "./local-moe.js";
export { ROW_FLAGS, groupRows, stepRows, type RowGroup, type RowItem, type SamplingColumns, type StepRows } from "./rows.js";
