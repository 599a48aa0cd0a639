// stages: stage hosts, expert hosts, and the step backends a scheduler drives.
export type { StepBackend, StepItem, StepResult } from "./backend.js";
export { LocalBackend } from "./local-backend.js";
export { PipelineClient, type PipelineClientOptions } from "./pipeline-client.js";
export { StageHost, type StageHostOptions, type StageStats, type PipelineExtra } from "./stage-host.js";
export { ExpertHost, type ExpertHostOptions } from "./expert-host.js";
export { ExpertBatcher, type BatcherStats } from "./expert-batcher.js";
export { groupRows, type RowGroup } from "./rows.js";
