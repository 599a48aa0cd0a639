/** Errors of the model layer: configs, weight files, tokenizers. */

/** Context carried by model errors; every field optional. */
export interface ModelErrorContext {
  file?: string;
  tensor?: string;
  field?: string;
  fix?: string;
  cause?: unknown;
}

/** Base class: sets `name`, keeps a machine-readable `code` and the context. */
export class ModelError extends Error {
  readonly code: string;
  readonly file?: string;
  readonly tensor?: string;
  readonly field?: string;
  readonly fix?: string;
  constructor(code: string, message: string, ctx: ModelErrorContext = {}) {
    super(ctx.fix ? `${message} (fix: ${ctx.fix})` : message, ctx.cause !== undefined ? { cause: ctx.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.file = ctx.file;
    this.tensor = ctx.tensor;
    this.field = ctx.field;
    this.fix = ctx.fix;
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
