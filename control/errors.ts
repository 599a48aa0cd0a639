/**
 * Errors of the control plane: runtime layouts that cannot be built from a
 * cluster file, processes that do not come up or die, run directories that
 * hold no runtime. Each names the process, host, field or file at fault and,
 * where one is known, the fix.
 */
import { MoeError } from "../common/index.js";

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

/** Base class of this folder's errors (see common/errors.ts): `code`, the context fields and the fix. */
export class ControlError extends MoeError {
  declare readonly process?: string;
  declare readonly host?: string;
  declare readonly field?: string;
  declare readonly file?: string;
  constructor(code: string, message: string, ctx: ControlErrorContext = {}) {
    super(code, message, ctx);
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
