/**
 * The project's Tokenizer: SentencePiece (sentencepiece-js, WASM) over a `ModelProto` that is
 * either a `tokenizer.model` file or built in memory from a GGUF's `tokenizer.ggml.*` vocabulary.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { TokenizerError } from "../errors.js";
import { decodeModelProto, encodeModelProto, SpmModelType, type SpmModel } from "./spm-proto.js";
import { PieceType, type Tokenizer, type TokenizerSource } from "./types.js";

/** The part of sentencepiece-js (no bundled types) that is used here. */
interface SpjsStatus {
  ToString(): string;
  delete(): void;
}
interface SpjsProcessor {
  load(file: string): Promise<void>;
  encodeIds(text: string): number[];
  decodeIds(ids: number[]): string;
  processor?: { status(): SpjsStatus };
}
interface SpjsModule {
  SentencePieceProcessor: new () => SpjsProcessor;
}

const spjs = createRequire(import.meta.url)("sentencepiece-js") as SpjsModule;

/** Options of a loaded tokenizer that the model file does not say. */
export interface SentencePieceOptions {
  /** Whether `encode` prepends BOS by default. */
  addBos: boolean;
  /** BOS/EOS ids; default: the model's trainer_spec. */
  bosId?: number;
  eosId?: number;
}

/** SentencePiece tokenizer (BPE or unigram) backed by sentencepiece-js. */
export class SentencePieceTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly addBos: boolean;
  /** Where the model came from (a file path, or the GGUF that held the vocabulary). */
  readonly file: string;
  private readonly pieces: readonly string[];
  private readonly types: Uint8Array;

  private constructor(private readonly spp: SpjsProcessor, model: SpmModel, file: string, opts: SentencePieceOptions) {
    this.file = file;
    this.pieces = model.pieces.map((p) => p.piece);
    this.types = Uint8Array.from(model.pieces, (p) => p.type);
    this.vocabSize = model.pieces.length;
    this.bosId = opts.bosId ?? model.trainerSpec.bosId;
    this.eosId = opts.eosId ?? model.trainerSpec.eosId;
    this.addBos = opts.addBos;
  }

  /**
   * Loads a serialized ModelProto.
   * @param bytes the model; validated with protobufjs before the WASM sees it.
   * @param modelPath a file holding exactly `bytes` (sentencepiece-js loads from a path).
   * @param file named in errors (the tokenizer.model, or the GGUF the vocabulary came from).
   */
  static async fromModelBytes(
    bytes: Uint8Array,
    modelPath: string,
    file: string,
    opts: SentencePieceOptions,
  ): Promise<SentencePieceTokenizer> {
    const model = decodeModelProto(bytes, file);
    const spp = new spjs.SentencePieceProcessor();
    try {
      await spp.load(modelPath);
    } catch (cause) {
      throw new TokenizerError(`${file}: sentencepiece could not load the model: ${String(cause)}`, { file, cause });
    }
    const status = spp.processor?.status();
    const text = status ? status.ToString() : "no processor";
    status?.delete();
    if (text !== "OK") {
      throw new TokenizerError(`${file}: sentencepiece rejected the model: ${text}`, {
        file,
        fix: "use an unmodified tokenizer.model, or a vocabulary with an [UNK] piece and unique pieces",
      });
    }
    return new SentencePieceTokenizer(spp, model, file, opts);
  }

  encode(text: string, opts?: { addBos?: boolean }): number[] {
    if (typeof text !== "string") {
      throw new TokenizerError(`${this.file}: encode() takes a string, got ${typeof text}`, { file: this.file });
    }
    const ids = text.length === 0 ? [] : this.spp.encodeIds(text);
    const addBos = opts?.addBos ?? this.addBos;
    return addBos && this.bosId >= 0 ? [this.bosId, ...ids] : ids;
  }

  decode(ids: readonly number[]): string {
    for (let i = 0; i < ids.length; i++) this.checkId(ids[i]!, `ids[${i}]`);
    return ids.length === 0 ? "" : this.spp.decodeIds(Array.from(ids));
  }

  idToPiece(id: number): string {
    this.checkId(id, "id");
    return this.pieces[id]!;
  }

  /** PieceType of `id` (NORMAL, CONTROL, BYTE, ...). */
  pieceType(id: number): number {
    this.checkId(id, "id");
    return this.types[id]!;
  }

  private checkId(id: number, field: string): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError(`${this.file}: token id ${id} is outside the vocabulary [0, ${this.vocabSize})`, {
        file: this.file,
        field,
        fix: "pass ids produced by this model's tokenizer",
      });
    }
  }
}

/** Loads a SentencePiece `tokenizer.model` file. */
export async function loadSpmFile(file: string, opts: SentencePieceOptions): Promise<SentencePieceTokenizer> {
  const abs = path.resolve(file);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(abs);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new TokenizerError(`${abs}: cannot read tokenizer file (${code ?? String(cause)})`, {
      file: abs,
      fix: "check the path; a model directory needs a tokenizer.model beside config.json",
      cause,
    });
  }
  return SentencePieceTokenizer.fromModelBytes(bytes, abs, abs, opts);
}

/**
 * Builds the ModelProto of a llama-style (SentencePiece BPE) GGUF vocabulary: pieces, scores and
 * types as given, identity normalisation, dummy prefix, whitespace kept, byte fallback when the
 * vocabulary has byte pieces.
 * @throws TokenizerError when the arrays disagree, a piece is empty or repeated, or there is no [UNK].
 */
export function modelProtoFromVocab(src: Extract<TokenizerSource, { kind: "gguf-vocab" }>): Uint8Array {
  const { file, tokens, scores, types } = src;
  const fix = "re-export the GGUF with a complete tokenizer.ggml.tokens/scores/token_type vocabulary";
  if (tokens.length === 0 || scores.length !== tokens.length || types.length !== tokens.length) {
    throw new TokenizerError(
      `${file}: tokenizer.ggml.tokens/scores/token_type lengths differ or are empty (${tokens.length}/${scores.length}/${types.length})`,
      { file, field: "tokenizer.ggml.tokens", fix },
    );
  }
  const seen = new Map<string, number>();
  let hasByte = false;
  let unk = -1;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const ty = types[i]!;
    if (t.length === 0) throw new TokenizerError(`${file}: token ${i} is empty`, { file, field: "tokenizer.ggml.tokens", fix });
    const prev = seen.get(t);
    if (prev !== undefined) {
      throw new TokenizerError(`${file}: token ${i} ${JSON.stringify(t)} repeats token ${prev}`, { file, field: "tokenizer.ggml.tokens", fix });
    }
    seen.set(t, i);
    if (!(Number.isInteger(ty) && ty >= 1 && ty <= 6)) {
      throw new TokenizerError(`${file}: token ${i} has unknown type ${ty}`, { file, field: "tokenizer.ggml.token_type", fix });
    }
    if (ty === PieceType.BYTE) hasByte = true;
    if (ty === PieceType.UNKNOWN && unk < 0) unk = i;
  }
  if (unk < 0) throw new TokenizerError(`${file}: the vocabulary has no unknown ([UNK]) token`, { file, field: "tokenizer.ggml.token_type", fix });
  return encodeModelProto({
    pieces: tokens.map((piece, i) => ({ piece, score: scores[i]!, type: types[i]! })),
    trainerSpec: {
      modelType: SpmModelType.BPE,
      vocabSize: tokens.length,
      byteFallback: hasByte,
      unkId: unk,
      bosId: src.bosId,
      eosId: src.eosId,
      padId: src.padId,
      unkPiece: tokens[unk]!,
      ...(src.bosId >= 0 && src.bosId < tokens.length ? { bosPiece: tokens[src.bosId]! } : {}),
      ...(src.eosId >= 0 && src.eosId < tokens.length ? { eosPiece: tokens[src.eosId]! } : {}),
      ...(src.padId >= 0 && src.padId < tokens.length ? { padPiece: tokens[src.padId]! } : {}),
    },
    normalizerSpec: { name: "identity", addDummyPrefix: true, removeExtraWhitespaces: false, escapeWhitespaces: true },
  });
}

/** Builds a tokenizer from a GGUF vocabulary (the ModelProto goes through a private temp file). */
export async function loadGgufVocab(src: Extract<TokenizerSource, { kind: "gguf-vocab" }>): Promise<SentencePieceTokenizer> {
  return loadModelBytes(modelProtoFromVocab(src), src.file, { addBos: src.addBos, bosId: src.bosId, eosId: src.eosId });
}

/** Loads a serialized ModelProto held in memory (e.g. from buildTokenizerModel); `file` is named in errors. */
export async function loadModelBytes(bytes: Uint8Array, file: string, opts: SentencePieceOptions): Promise<SentencePieceTokenizer> {
  const dir = await mkdtemp(path.join(tmpdir(), "moe-tokenizer-"));
  try {
    const tmp = path.join(dir, "tokenizer.model");
    await writeFile(tmp, bytes);
    return await SentencePieceTokenizer.fromModelBytes(bytes, tmp, file, opts);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
