// tokenizer: SentencePiece text <-> token ids (xAI tokenizer.model, GGUF vocabularies; the
// project's own BPE trainer lives in factory/) and streaming detokenisation.
import { loadGgufVocab, loadSpmFile } from "./sentencepiece.js";
import type { Tokenizer, TokenizerSource } from "./types.js";

export { PieceType } from "./types.js";
export type { Tokenizer, TokenizerSource } from "./types.js";
export { SentencePieceTokenizer, loadModelBytes, modelProtoFromVocab } from "./sentencepiece.js";
export type { SentencePieceOptions } from "./sentencepiece.js";
export { StreamDecoder } from "./stream.js";
export { IdsOnlyTokenizer } from "./ids-only.js";
export { encodeModelProto, decodeModelProto, SpmModelType } from "./spm-proto.js";
export type { SpmModel, SpmModelInput, SpmPiece, SpmTrainerSpec, SpmNormalizerSpec } from "./spm-proto.js";

import { IdsOnlyTokenizer } from "./ids-only.js";
/**
 * Loads a model's tokenizer: a SentencePiece `tokenizer.model` file (xAI's: no BOS added, as
 * xAI's runner adds none) or a GGUF's embedded `tokenizer.ggml.*` vocabulary (BOS per
 * `tokenizer.ggml.add_bos_token`).
 * @throws TokenizerError naming the file when it is missing, corrupt or not a SentencePiece model.
 */
export async function loadTokenizer(source: TokenizerSource): Promise<Tokenizer> {
  if (source.kind === "none") return new IdsOnlyTokenizer(source);
  return source.kind === "spm-file" ? loadSpmFile(source.path, { addBos: source.addBos ?? false }) : loadGgufVocab(source);
}
