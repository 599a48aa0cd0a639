/**
 * GGUF metadata for a Grok-family config (llama.cpp's `grok` keys, SPEC.md §9.2): the inverse of
 * the model's `configFromGguf`, used by every writer of GGUF files.
 */
import { readFileSync } from "node:fs";
import { decodeModelProto, GGUF_DEFAULT_ALIGNMENT, GROK_DEFAULTS, type ModelConfig, type SpmModel, type TokenizerSource } from "../model/index.js";
import type { GgufMetaEntry } from "./gguf-writer.js";

/** An embedded SentencePiece vocabulary (`tokenizer.ggml.*`). */
export interface GgufVocab {
  readonly tokens: readonly string[];
  readonly scores: readonly number[];
  /** PieceType per token. */
  readonly types: readonly number[];
  /** SentencePiece `add_dummy_prefix` (written as `tokenizer.ggml.add_space_prefix`). */
  readonly addSpacePrefix?: boolean;
}

/** The GGUF vocabulary of a SentencePiece model (pieces, scores, types, dummy prefix). */
export function vocabOf(spm: SpmModel): GgufVocab {
  return {
    tokens: spm.pieces.map((p) => p.piece),
    scores: spm.pieces.map((p) => p.score),
    types: spm.pieces.map((p) => p.type),
    // an absent normalizer_spec means SentencePiece's default add_dummy_prefix = true
    addSpacePrefix: (spm.normalizerSpec as typeof spm.normalizerSpec | null | undefined)?.addDummyPrefix ?? true,
  };
}

/** The GGUF vocabulary of a model's tokenizer source (a `tokenizer.model` file or a GGUF's own), if it has one. */
export function vocabFromSource(src: TokenizerSource): GgufVocab | undefined {
  if (src.kind === "spm-file") return vocabOf(decodeModelProto(readFileSync(src.path), src.path));
  if (src.kind === "gguf-vocab") return { tokens: src.tokens, scores: src.scores, types: src.types };
  return undefined;
}

/** `general.file_type` (llama_ftype) to write. */
export type GgufFileType = 0 | 1 | 7 | 32;

/**
 * GGUF metadata for a Grok-family config: the generic keys of SPEC.md §9.2,
 * the optional Grok constants only where they differ from the defaults, and
 * the tokenizer keys when `vocab` is given.
 */
export function grokGgufMetadata(cfg: ModelConfig, opts: { fileType: GgufFileType; vocab?: GgufVocab }): GgufMetaEntry[] {
  const g = (k: string) => `grok.${k}`;
  const m: GgufMetaEntry[] = [
    ["general.architecture", "grok"],
    ["general.name", cfg.name],
    ["general.alignment", GGUF_DEFAULT_ALIGNMENT, "u32"],
    [g("vocab_size"), cfg.vocabSize, "u32"],
    [g("context_length"), cfg.contextLength, "u32"],
    [g("embedding_length"), cfg.dModel, "u32"],
    [g("block_count"), cfg.nLayers, "u32"],
    [g("feed_forward_length"), cfg.ffnDim, "u32"],
    [g("attention.head_count"), cfg.nHeads, "u32"],
    [g("attention.head_count_kv"), cfg.nKvHeads, "u32"],
    [g("attention.key_length"), cfg.headDim, "u32"],
    [g("attention.value_length"), cfg.headDim, "u32"],
    [g("attention.layer_norm_rms_epsilon"), cfg.rmsEps, "f32"],
    [g("rope.freq_base"), cfg.ropeBase, "f32"],
    [g("rope.dimension_count"), cfg.headDim, "u32"],
    [g("expert_count"), cfg.nExperts, "u32"],
    [g("expert_used_count"), cfg.nExpertsUsed, "u32"],
  ];
  const optional: Array<[string, number, number]> = [
    [g("embedding_scale"), cfg.embeddingScale, GROK_DEFAULTS.embeddingScale],
    [g("logit_scale"), cfg.logitScale, GROK_DEFAULTS.logitScale],
    [g("attention.output_scale"), cfg.attnScale, GROK_DEFAULTS.attnScale],
    [g("attn_logit_softcapping"), cfg.attnSoftcap, GROK_DEFAULTS.attnSoftcap],
  ];
  for (const [k, v, d] of optional) if (v !== d) m.push([k, v, "f32"]);
  if (opts.vocab) {
    m.push(
      ["tokenizer.ggml.model", "llama"],
      ["tokenizer.ggml.tokens", opts.vocab.tokens, "string"],
      ["tokenizer.ggml.scores", opts.vocab.scores, "f32"],
      ["tokenizer.ggml.token_type", opts.vocab.types, "i32"],
    );
    if (opts.vocab.addSpacePrefix !== undefined) m.push(["tokenizer.ggml.add_space_prefix", opts.vocab.addSpacePrefix]);
  }
  m.push(
    ["tokenizer.ggml.bos_token_id", cfg.bosId, "u32"],
    ["tokenizer.ggml.eos_token_id", cfg.eosId, "u32"],
    ["tokenizer.ggml.unknown_token_id", cfg.unkId, "u32"],
    ["tokenizer.ggml.padding_token_id", cfg.padId, "u32"],
    ["tokenizer.ggml.add_bos_token", cfg.addBos],
    ["tokenizer.ggml.add_eos_token", false],
  );
  if (opts.fileType === 7) m.push(["general.quantization_version", 2, "u32"]);
  m.push(["general.file_type", opts.fileType, "u32"]);
  return m;
}
