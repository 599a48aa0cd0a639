// model: the Grok-1 family — config and presets, accounting, weight readers,
// tokenizer, ONNX graph builders, compute blocks and the single-process engine.
// (Writing model files — the tiny-model generator, GGUF/safetensors writers, the BPE
// trainer — is factory/'s job; model never imports it.)

// config and presets
export { GROK_DEFAULTS, PRESETS, ffnSize, loadConfigJson, modelConfigSchema, parseModelConfig, presetConfig, type ModelConfig } from "./config.js";
// errors
export { ModelConfigError, ModelError, TokenizerError, WeightFileError, type ModelErrorContext } from "./errors.js";
// parameter, byte and FLOP accounting
export {
  ACCOUNTING_DTYPES,
  accountModel,
  attentionFlopsPerToken,
  expertFlopsPerToken,
  kvBytesPerToken,
  layerTensorNames,
  modelTensors,
  paramCount,
  tensorBytes,
  type AccountingDType,
  type LayerAccount,
  type ModelAccount,
  type TensorRole,
  type TensorSpec,
} from "./accounting.js";
// weight files
export {
  alignUp,
  checkTensors,
  configFromGguf,
  dtypeBytes,
  f32Decimal,
  findModelFiles,
  GGML_TYPE_IDS,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_FILE_TYPES,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  GGUF_SPLIT_KEYS,
  GgufReader,
  ggufSplitName,
  isGguf,
  numElements,
  openGgufFile,
  parseGgufSplitName,
  SplitGgufReader,
  openGguf,
  openModel,
  openSafetensors,
  openWeights,
  rawToF32,
  SAFETENSORS_DTYPES,
  SafetensorsReader,
  TensorFileReader,
  WEIGHT_EXTENSIONS,
  type AnyGgufReader,
  type GgufKV,
  type GgufSplitPart,
  type GgufValueType,
  type LoadedModel,
  type ModelDirFiles,
  type RawTensor,
  type TensorInfo,
  type WeightDType,
  type WeightReader,
} from "./weights/index.js";
// exact dtype conversions and Q8_0
export {
  bf16BytesToF32,
  bf16ToF32,
  dequantizeQ8_0,
  f16BytesToF32,
  f16ToF32,
  f32Bits,
  f32BytesToF32,
  f32FromBits,
  f32ToBf16,
  f32ToBf16Bytes,
  f32ToBytes,
  f32ToF16,
  f32ToF16Bytes,
  Q8_0_BLOCK,
  Q8_0_BLOCK_BYTES,
  quantizeQ8_0,
} from "./dtype.js";
// gating and sampling (plain TypeScript)
export { combine, gatherRows, groupByExpert, routeRows, type ExpertGroup, type Routing } from "./gating.js";
export { argmax, logprobOf, mulberry32, Sampler, type Sampled, type SamplingParams } from "./sampling.js";
// ONNX graphs
export {
  buildAttentionGraph,
  buildExpertGraph,
  buildHeadGraph,
  Elem,
  GraphBuilder,
  linear,
  q8_0ToNBits,
  transpose,
  type AttentionWeights,
  type ExpertWeights,
  type HeadWeights,
  type LinearOptions,
  type LinearWeight,
} from "./onnx/index.js";
// compute blocks
export {
  addNormedResidual,
  AttentionBlock,
  attentionWeights,
  createSession,
  EmbeddingTable,
  ExpertBlock,
  expertWeights,
  f32Tensor,
  HeadBlock,
  headWeights,
  LayerKv,
  linearWeight,
  ropeTables,
  routerWeights,
  vectorWeight,
  type AttentionItem,
  type AttentionOutput,
  type ComputeOptions,
  type ExecutionProvider,
} from "./blocks/index.js";
// engine
export { Engine, generate, LayerStack, LocalMoe, type EngineSequence, type FinishReason, type ForwardItem, type GenerationOptions, type MoeExecutor, type StackItem } from "./engine/index.js";
export { loadServingModel, type ServingModel } from "./load.js";
// tokenizer
export {
  decodeModelProto,
  encodeModelProto,
  IdsOnlyTokenizer,
  loadModelBytes,
  loadTokenizer,
  loadTokenizerOrIds,
  modelProtoFromVocab,
  PieceType,
  SentencePieceTokenizer,
  SpmModelType,
  StreamDecoder,
  type SentencePieceOptions,
  type SpmModel,
  type SpmModelInput,
  type SpmNormalizerSpec,
  type SpmPiece,
  type SpmTrainerSpec,
  type Tokenizer,
  type TokenizerSource,
} from "./tokenizer/index.js";
