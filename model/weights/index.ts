// model/weights: range readers and writers for GGUF and safetensors, GGUF
// metadata <-> ModelConfig, and opening a model directory or GGUF file.

// contracts
export type { WeightDType, TensorInfo, RawTensor, WeightReader } from "./types.js";
// readers
export { GgufReader, openGguf, type GgufKV } from "./gguf.js";
export { SafetensorsReader, openSafetensors, SAFETENSORS_DTYPES } from "./safetensors.js";
export { TensorFileReader, dtypeBytes, numElements, rawToF32 } from "./tensor-file.js";
export { GGML_TYPE_IDS, GGUF_FILE_TYPES, type GgufValueType } from "./gguf-format.js";
// writers
export { writeGguf, encodeGgufHeader, type GgufMetaEntry, type GgufScalar, type GgufValue, type GgufTensorInput, type GgufWriteInput } from "./gguf-writer.js";
export { writeSafetensors, type SafetensorsTensorInput, type SafetensorsWriteInput } from "./safetensors-writer.js";
// config from / to GGUF metadata
export { configFromGguf, checkTensors, grokGgufMetadata, f32Decimal, type GgufVocab, type GgufFileType } from "./gguf-config.js";
// whole models
export { openModel, openWeights, findModelFiles, WEIGHT_EXTENSIONS, type LoadedModel, type ModelDirFiles } from "./open.js";
