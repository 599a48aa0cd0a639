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

import { TokenizerError } from "../errors.js";
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

/**
 * A model's tokenizer for serving: {@link loadTokenizer}, or — when the vocabulary cannot be used
 * (corrupt or missing tokenizer.model, repeated or invalid pieces) — a token-ids-only tokenizer whose
 * `reason` says why, so that the model still serves token-id prompts.
 * @param ids the model's vocabulary size and BOS/EOS ids (from its config)
 */
export async function loadTokenizerOrIds(source: TokenizerSource, ids: { vocabSize: number; bosId: number; eosId: number }): Promise<Tokenizer> {
  try {
    return await loadTokenizer(source);
  } catch (e) {
    if (!(e instanceof TokenizerError)) throw e;
    return new IdsOnlyTokenizer({ kind: "none", reason: e.message, vocabSize: ids.vocabSize, bosId: ids.bosId, eosId: ids.eosId });
  }
}
