/**
 * Errors of the control plane: runtime layouts that cannot be built from a
 * cluster file, processes that do not come up or die, run directories that
 * hold no runtime. Each names the process, host, field or file at fault and,
 * where one is known, the fix.
 */

/** Context carried by control errors; every field optional. */
export interface ControlErrorContext {
  /** Process name from runtime.json, e.g. `stage0`. */
  process?: string;
  /** Cluster host name. */
  host?: string;
  /** Field path in the cluster file, e.g. `hosts[2].ports`. */
  field?: string;
  /** File at fault (cluster YAML, runtime.json, a log file). */
  file?: string;
  /** What to do about it, when known. */
  fix?: string;
  cause?: unknown;
}

/** Base class: sets `name`, keeps a machine-readable `code` and the context. */
export class ControlError extends Error {
  readonly code: string;
  readonly process?: string;
  readonly host?: string;
  readonly field?: string;
  readonly file?: string;
  readonly fix?: string;
  constructor(code: string, message: string, ctx: ControlErrorContext = {}) {
    super(ctx.fix ? `${message} (fix: ${ctx.fix})` : message, ctx.cause !== undefined ? { cause: ctx.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.process = ctx.process;
    this.host = ctx.host;
    this.field = ctx.field;
    this.file = ctx.file;
    this.fix = ctx.fix;
  }
}

/** The cluster file and plan cannot be turned into a runtime layout (ports, addresses, roles). */
export class RuntimeLayoutError extends ControlError {
  constructor(message: string, ctx: ControlErrorContext = {}) {
    super("RUNTIME_LAYOUT", message, ctx);
  }
}

/** runtime.json is missing, unreadable or not a runtime written by `moe up`. */
export class RuntimeFileError extends ControlError {
  constructor(message: string, ctx: ControlErrorContext = {}) {
    super("RUNTIME_FILE", message, ctx);
  }
}

/** A process did not signal readiness in time, or exited while starting. */
export class StartupError extends ControlError {
  /** Last lines of the process's log. */
  readonly logTail: string;
  constructor(message: string, logTail: string, ctx: ControlErrorContext = {}) {
    super("STARTUP", message, ctx);
    this.logTail = logTail;
  }
}

/** The plan does not fit or cannot be served by this runtime (e.g. missing roles). */
export class PlanNotServableError extends ControlError {
  constructor(message: string, ctx: ControlErrorContext = {}) {
    super("PLAN_NOT_SERVABLE", message, ctx);
  }
}

/** Another launcher is already running this cluster from the same run directory. */
export class AlreadyRunningError extends ControlError {
  constructor(message: string, ctx: ControlErrorContext = {}) {
    super("ALREADY_RUNNING", message, ctx);
  }
}
