// factory: writing model files — deterministic random models of the Grok family (grok-1-tiny and
// any config), GGUF and safetensors writers, GGUF metadata of a config, and the BPE tokenizer
// trainer with its corpus. Depends on model/ only; model/ never imports it.

// random models
export { generateTensorValues, tensorValueChunks, TINY_INIT, VALUE_CHUNK } from "./init-values.js";
export {
  encodeValues,
  generateModel,
  storageDType,
  type GenerateDType,
  type GeneratedModel,
  type GenerateFormat,
  type GenerateModelOptions,
} from "./generate.js";
export { Xoshiro128 } from "./random.js";
// the default model
export { DEFAULT_TINY_MODEL_DIR, ensureModelPath, ensureTinyModel } from "./tiny-model.js";
// writers
export { encodeGgufHeader, writeGguf, type GgufMetaEntry, type GgufScalar, type GgufTensorInput, type GgufValue, type GgufWriteInput } from "./gguf-writer.js";
export { writeSafetensors, type SafetensorsTensorInput, type SafetensorsWriteInput } from "./safetensors-writer.js";
export { grokGgufMetadata, vocabFromSource, vocabOf, type GgufFileType, type GgufVocab } from "./gguf-metadata.js";
// tokenizer trainer
export { buildTokenizerModel, FIRST_BYTE_ID, FIRST_NORMAL_ID, MAX_PIECE_LENGTH, MAX_TINY_VOCAB, minTokenizerVocab, pretokenize, trainBpe } from "./bpe-train.js";
export { buildCorpus, CORPUS_SENTENCES } from "./corpus.js";
export { metaEntry, splitGguf, type SplitOptions } from "./gguf-split-writer.js";
// xAI's checkpoint format
export { Pickler } from "./pickler.js";
export { pickleXaiLeaf, quantizeXai, writeXaiCheckpoint, writeXaiLeaves, type XaiArrayInput, type XaiLeafInput } from "./xai-writer.js";
// conversion
export { convertModel, type ConvertOptions, type ConvertResult } from "./convert.js";
// per-host parts
export { partIsEmpty, partMinus, partsOverlap, planParts, sliceModel, writeHostPart, type HostPart, type SliceOptions, type SlicedPart, type SlicePlan } from "./slice.js";
