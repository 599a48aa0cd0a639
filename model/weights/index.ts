// model/weights: range readers for GGUF and safetensors, GGUF metadata -> ModelConfig,
// and opening a model directory or GGUF file. (Writers live in factory/.)

// contracts
export type { WeightDType, TensorInfo, RawTensor, WeightReader } from "./types.js";
// readers
export { GgufReader, openGguf, type GgufKV } from "./gguf.js";
export { GGUF_SPLIT_KEYS, ggufSplitName, openGgufFile, parseGgufSplitName, SplitGgufReader, type GgufSplitPart } from "./gguf-split.js";
export { SafetensorsReader, openSafetensors, SAFETENSORS_DTYPES } from "./safetensors.js";
export { TensorFileReader, dtypeBytes, numElements, rawToF32 } from "./tensor-file.js";
// GGUF format constants (shared with the writers in factory/)
export { alignUp, GGML_TYPE_IDS, GGUF_DEFAULT_ALIGNMENT, GGUF_FILE_TYPES, GGUF_MAGIC, GGUF_VALUE_TYPES, type GgufValueType } from "./gguf-format.js";
// config from GGUF metadata
export { configFromGguf, checkTensors, f32Decimal } from "./gguf-config.js";
// a host's part of a model (moe model slice)
export { isPartMetadata, PART_KEYS, PartReader } from "./part.js";
export { PartSetReader } from "./part-set.js";
// xAI's Grok-1 checkpoint (ckpt-0/ pickles)
export { XaiCheckpointReader, findXaiCheckpoint, XAI_CKPT_DIR } from "./xai-checkpoint.js";
export { xaiFileName, xaiLeafCount, xaiLeaves, XAI_LAYER_SLOTS, type XaiLeaf } from "./xai-layout.js";
export { xaiArray, xaiLeafValue, type XaiArray, type XaiArrayDType, type XaiLeafValue } from "./xai-arrays.js";
export { readPickle, ALLOWED_GLOBALS, type PickleValue, type PickleBytes } from "./pickle.js";
// whole models
export { openModel, openWeights, findModelFiles, isGguf, WEIGHT_EXTENSIONS, type AnyGgufReader, type LoadedModel, type ModelDirFiles } from "./open.js";
