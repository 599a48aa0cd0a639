/** Errors of the planner: cluster files, expert-load files, explicit placements. */
import { MoeError } from "../common/index.js";

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

/** Base class of this folder's errors (see common/errors.ts): `code`, the context fields and the fix. */
export class PlannerError extends MoeError {
  declare readonly file?: string;
  declare readonly field?: string;
  declare readonly line?: number;
  declare readonly host?: string;
  declare readonly layer?: number;
  declare readonly expert?: number;
  constructor(code: string, message: string, ctx: PlannerErrorContext = {}) {
    super(code, message, ctx);
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

/** A `--calibrate` file is unreadable, is not a `moe bench cluster --json` output, or does not match the model. */
export class CalibrationError extends PlannerError {
  constructor(message: string, ctx: PlannerErrorContext = {}) {
    super("CALIBRATION", message, ctx);
  }
}

/** `hosts[2].network.latency` from a zod path. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`)).join("");
}
