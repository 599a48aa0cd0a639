/** Errors of the model layer: configs, weight files, tokenizers. */
import { MoeError } from "../common/index.js";

/** Context carried by model errors; every field optional. */
export interface ModelErrorContext {
  file?: string;
  tensor?: string;
  field?: string;
  fix?: string;
  cause?: unknown;
}

/** Base class of this folder's errors (see common/errors.ts): `code`, the context fields and the fix. */
export class ModelError extends MoeError {
  declare readonly file?: string;
  declare readonly tensor?: string;
  declare readonly field?: string;
  constructor(code: string, message: string, ctx: ModelErrorContext = {}) {
    super(code, message, ctx);
  }
}

/** A model configuration (preset, config.json, GGUF metadata) is invalid. */
export class ModelConfigError extends ModelError {
  constructor(message: string, ctx: ModelErrorContext = {}) {
    super("MODEL_CONFIG", message, ctx);
  }
}

/** A weight file is corrupt, truncated, of an unknown dtype, or lacks a tensor. */
export class WeightFileError extends ModelError {
  constructor(message: string, ctx: ModelErrorContext = {}) {
    super("WEIGHT_FILE", message, ctx);
  }
}

/** A tokenizer file cannot be loaded or used. */
export class TokenizerError extends ModelError {
  constructor(message: string, ctx: ModelErrorContext = {}) {
    super("TOKENIZER", message, ctx);
  }
}

/**
 * A step cannot run as asked: a sequence unknown here, a position that does not follow its cache,
 * rows that are not grouped by sequence, or the context length exceeded. `code` says which:
 * `UNKNOWN_SEQUENCE`, `POSITION_MISMATCH`, `BAD_ROWS`, `CONTEXT_EXCEEDED`.
 */
export class StepError extends ModelError {
  constructor(code: "UNKNOWN_SEQUENCE" | "POSITION_MISMATCH" | "BAD_ROWS" | "CONTEXT_EXCEEDED", message: string, ctx: ModelErrorContext = {}) {
    super(code, message, ctx);
  }
}
