// model/blocks: onnxruntime sessions of the compute blocks and their glue.
export { AttentionBlock, type AttentionItem, type AttentionOutput } from "./attention-block.js";
export { ExpertBlock } from "./expert-block.js";
export { buildLayerSessions, DEFAULT_EXPERT_EXECUTOR, ExpertLayerBlock, expertSessionsOf, expertWeightBytes, LAYER_SESSION_MAX_BYTES, type ExpertRows, type LayerExpert } from "./expert-layer-block.js";
export { HeadBlock, STATS_ROWS, type HeadOutput } from "./head-block.js";
export { EmbeddingTable } from "./embedding.js";
export { ENGINE_KV_BYTES_PER_ELEMENT, LayerKv } from "./kv-cache.js";
export { ropeTables } from "./rope.js";
export { causalMask, StepMemo } from "./step-memo.js";
export { GrowBuffer, ScratchPool, type AttentionScratch } from "./scratch.js";
export { addNormedResidual } from "./residual.js";
export { packedScalesDroppable, PACKED_SCALES_CHECKED_ORT_VERSIONS } from "./build-files.js";
export { attentionWeights, expertWeights, headWeights, linearWeight, routerWeights, vectorWeight } from "./load-weights.js";
export {
  BlockSession,
  CHECKED_ORT_VERSIONS,
  createGraphSession,
  createSession,
  defaultThreads,
  f32Tensor,
  linearOptions,
  MAX_LOOP_HOLD_MS,
  nativeBinding,
  openRunner,
  sessionOptions,
  type BlockKind,
  type ComputeOptions,
  type ExecutionProvider,
  type GraphRunner,
  type KvDtype,
  type RunOutputs,
} from "./session.js";
export { disableOrtTelemetryByDefault, ORT_TELEMETRY_ENV } from "./telemetry.js";
