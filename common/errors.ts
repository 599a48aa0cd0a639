/**
 * The one error base class of the project. Every folder's `errors.ts` extends it with the context its
 * errors carry (file, tensor, host, layer, expert, field, ...): `name` is the class name, `code` is
 * machine-readable, the context fields are set on the error, and `fix` (when known) is appended to the
 * message so that a log line alone says what to do.
 */

/** What every error context may hold. */
export interface ErrorContext {
  /** What to do about it, when known. */
  readonly fix?: string;
  readonly cause?: unknown;
}

/** Base class: sets `name`, keeps a machine-readable `code`, the context fields and the fix. */
export class MoeError extends Error {
  readonly code: string;
  declare readonly fix?: string;

  /**
   * @param code machine-readable, e.g. `WEIGHT_FILE`, `DEADLINE_EXCEEDED`
   * @param context context fields, an {@link ErrorContext} plus the folder's own (set on the error when
   *   defined; `cause` goes to `Error.cause`)
   */
  constructor(code: string, message: string, context: object = {}) {
    const ctx = context as ErrorContext;
    super(ctx.fix ? `${message} (fix: ${ctx.fix})` : message, ctx.cause !== undefined ? { cause: ctx.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    for (const [key, value] of Object.entries(ctx)) if (key !== "cause" && value !== undefined) (this as unknown as Record<string, unknown>)[key] = value;
  }
}
