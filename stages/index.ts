// stages: stage hosts, expert hosts, the step backends a scheduler drives, and the one generation loop.
export { stepResults, type StepBackend, type StepItem, type StepResult } from "./backend.js";
export { generate, type GenerateOptions, type FinishReason } from "./generate.js";
export { LocalBackend } from "./local-backend.js";
export type { MoeStep } from "./moe-step.js";
export { PipelineClient, type PipelineClientOptions } from "./pipeline-client.js";
export { StageHost, type StageHostOptions, type StageStats } from "./stage-host.js";
export { ExpertHost, type ExpertHostOptions, type UnloadReport } from "./expert-host.js";
export { ExpertBatcher, type BatcherStats } from "./expert-batcher.js";
export { ExpertSessions } from "./expert-sessions.js";
