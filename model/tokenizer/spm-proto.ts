/**
 * SentencePiece `ModelProto` (sentencepiece_model.proto, proto2) encode/decode with protobufjs.
 *
 * Only the subset the project reads or writes is declared; the field numbers are those of
 * google/sentencepiece `src/sentencepiece_model.proto`. Unknown fields (self-test data, trainer
 * options not listed here) are skipped on decode.
 */
import protobuf from "protobufjs";
import { TokenizerError } from "../errors.js";

/** `TrainerSpec.ModelType`. */
export const SpmModelType = Object.freeze({ UNIGRAM: 1, BPE: 2, WORD: 3, CHAR: 4 });

const SCHEMA = `
syntax = "proto2";
package sentencepiece;
message TrainerSpec {
  enum ModelType { UNIGRAM = 1; BPE = 2; WORD = 3; CHAR = 4; }
  optional ModelType model_type = 3 [default = UNIGRAM];
  optional int32 vocab_size = 4 [default = 8000];
  optional float character_coverage = 10 [default = 0.9995];
  optional int32 max_sentencepiece_length = 20 [default = 16];
  optional bool split_by_unicode_script = 21 [default = true];
  optional bool split_by_whitespace = 22 [default = true];
  optional bool split_by_number = 23 [default = true];
  optional bool treat_whitespace_as_suffix = 24 [default = false];
  optional bool split_digits = 25 [default = false];
  optional bool allow_whitespace_only_pieces = 26 [default = false];
  optional bool byte_fallback = 35 [default = false];
  optional int32 unk_id = 40 [default = 0];
  optional int32 bos_id = 41 [default = 1];
  optional int32 eos_id = 42 [default = 2];
  optional int32 pad_id = 43 [default = -1];
  optional string unk_surface = 44 [default = " \\xE2\\x81\\x87 "];
  optional string unk_piece = 45 [default = "<unk>"];
  optional string bos_piece = 46 [default = "<s>"];
  optional string eos_piece = 47 [default = "</s>"];
  optional string pad_piece = 48 [default = "<pad>"];
}
message NormalizerSpec {
  optional string name = 1;
  optional bytes precompiled_charsmap = 2;
  optional bool add_dummy_prefix = 3 [default = true];
  optional bool remove_extra_whitespaces = 4 [default = true];
  optional bool escape_whitespaces = 5 [default = true];
}
message ModelProto {
  message SentencePiece {
    enum Type { NORMAL = 1; UNKNOWN = 2; CONTROL = 3; USER_DEFINED = 4; UNUSED = 5; BYTE = 6; }
    optional string piece = 1;
    optional float score = 2;
    optional Type type = 3 [default = NORMAL];
  }
  repeated SentencePiece pieces = 1;
  optional TrainerSpec trainer_spec = 2;
  optional NormalizerSpec normalizer_spec = 3;
}
`;

/** One vocabulary entry: `piece` (UTF-8 text, `▁` for space), `score` (f32), `type` (PieceType). */
export interface SpmPiece {
  piece: string;
  score: number;
  type: number;
}

/** The declared `TrainerSpec` fields (snake_case in the .proto, camelCase here). */
export interface SpmTrainerSpec {
  modelType: number;
  vocabSize: number;
  characterCoverage: number;
  maxSentencepieceLength: number;
  splitByUnicodeScript: boolean;
  splitByWhitespace: boolean;
  splitByNumber: boolean;
  treatWhitespaceAsSuffix: boolean;
  splitDigits: boolean;
  allowWhitespaceOnlyPieces: boolean;
  byteFallback: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  unkSurface: string;
  unkPiece: string;
  bosPiece: string;
  eosPiece: string;
  padPiece: string;
}

/** The declared `NormalizerSpec` fields. */
export interface SpmNormalizerSpec {
  name: string;
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

/** A decoded `ModelProto`: every declared field present (proto2 defaults filled in). */
export interface SpmModel {
  pieces: SpmPiece[];
  trainerSpec: SpmTrainerSpec;
  normalizerSpec: SpmNormalizerSpec;
}

/** What {@link encodeModelProto} takes: only the fields given are written (explicit defaults included). */
export interface SpmModelInput {
  pieces: readonly SpmPiece[];
  trainerSpec?: Partial<SpmTrainerSpec>;
  normalizerSpec?: Partial<SpmNormalizerSpec>;
}

let modelProtoType: protobuf.Type | undefined;

function modelProto(): protobuf.Type {
  modelProtoType ??= protobuf.parse(SCHEMA).root.lookupType("sentencepiece.ModelProto");
  return modelProtoType;
}

/** Serialises a ModelProto; fields are written in field-number order, so equal input gives equal bytes. */
export function encodeModelProto(model: SpmModelInput): Uint8Array {
  const type = modelProto();
  const msg = type.fromObject({
    pieces: model.pieces.map((p) => ({ piece: p.piece, score: p.score, type: p.type })),
    ...(model.trainerSpec ? { trainerSpec: model.trainerSpec } : {}),
    ...(model.normalizerSpec ? { normalizerSpec: model.normalizerSpec } : {}),
  });
  return type.encode(msg).finish();
}

/**
 * Parses a ModelProto and checks it is usable as a vocabulary (at least one piece, non-empty
 * pieces, known piece types).
 * @param file named in errors.
 * @throws TokenizerError when the bytes are not a SentencePiece model.
 */
export function decodeModelProto(bytes: Uint8Array, file: string): SpmModel {
  const fix = "point to a SentencePiece tokenizer.model (e.g. xAI's grok-1 tokenizer.model) or regenerate it";
  const type = modelProto();
  let obj: Record<string, unknown>;
  try {
    obj = type.toObject(type.decode(bytes), { defaults: true, enums: Number, longs: Number });
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new TokenizerError(`${file}: not a SentencePiece model (protobuf decode failed: ${why})`, { file, fix, cause });
  }
  const model = obj as unknown as SpmModel;
  // SentencePiece writes pieces (1), trainer_spec (2), normalizer_spec (3) in that order, so a
  // file cut at a piece boundary still parses; the missing specs give it away.
  for (const field of ["trainerSpec", "normalizerSpec"] as const) {
    if (!model[field]) {
      const name = field === "trainerSpec" ? "trainer_spec" : "normalizer_spec";
      throw new TokenizerError(`${file}: incomplete SentencePiece model (no ${name}; truncated file?)`, { file, field: name, fix });
    }
  }
  if (!model.pieces || model.pieces.length === 0) {
    throw new TokenizerError(`${file}: not a SentencePiece model (no vocabulary pieces)`, { file, field: "pieces", fix });
  }
  for (let i = 0; i < model.pieces.length; i++) {
    const p = model.pieces[i]!;
    if (p.piece.length === 0 || !(p.type >= 1 && p.type <= 6)) {
      throw new TokenizerError(`${file}: not a SentencePiece model (piece ${i} is empty or has unknown type ${p.type})`, {
        file,
        field: `pieces[${i}]`,
        fix,
      });
    }
  }
  return model;
}
