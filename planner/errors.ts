/** Errors of the planner: cluster files, expert-load files, explicit placements. */

/** Context carried by planner errors; every field optional. */
export interface PlannerErrorContext {
  /** File the problem is in (cluster YAML, load JSON, model directory). */
  file?: string;
  /** Field path inside the file, e.g. `hosts[2].memory`. */
  field?: string;
  /** 1-based line in `file`, when known. */
  line?: number;
  host?: string;
  layer?: number;
  expert?: number;
  /** What to do about it, when known. */
  fix?: string;
  cause?: unknown;
}

/** Base class: sets `name`, keeps a machine-readable `code` and the context. */
export class PlannerError extends Error {
  readonly code: string;
  readonly file?: string;
  readonly field?: string;
  readonly line?: number;
  readonly host?: string;
  readonly layer?: number;
  readonly expert?: number;
  readonly fix?: string;
  constructor(code: string, message: string, ctx: PlannerErrorContext = {}) {
    super(ctx.fix ? `${message} (fix: ${ctx.fix})` : message, ctx.cause !== undefined ? { cause: ctx.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.file = ctx.file;
    this.field = ctx.field;
    this.line = ctx.line;
    this.host = ctx.host;
    this.layer = ctx.layer;
    this.expert = ctx.expert;
    this.fix = ctx.fix;
  }
}

/** A cluster spec (YAML) is unreadable, invalid, or names an unknown device. */
export class ClusterConfigError extends PlannerError {
  constructor(message: string, ctx: PlannerErrorContext = {}) {
    super("CLUSTER_CONFIG", message, ctx);
  }
}

/** An explicit `placement:` is inconsistent with the model or the cluster. */
export class PlacementError extends PlannerError {
  constructor(message: string, ctx: PlannerErrorContext = {}) {
    super("PLACEMENT", message, ctx);
  }
}

/** An `--expert-load` file is unreadable or does not match the model's shape. */
export class ExpertLoadError extends PlannerError {
  constructor(message: string, ctx: PlannerErrorContext = {}) {
    super("EXPERT_LOAD", message, ctx);
  }
}

/** Planner inputs (workload, dtype, options) are out of range. */
export class PlanInputError extends PlannerError {
  constructor(message: string, ctx: PlannerErrorContext = {}) {
    super("PLAN_INPUT", message, ctx);
  }
}
