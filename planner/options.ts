/** Planner inputs besides the model and the cluster, with their defaults. */
import type { ModelConfig } from "../model/index.js";
import type { Calibration } from "./calibrate.js";
import type { WeightDType } from "./catalogue.js";
import type { ClusterSpec } from "./cluster.js";
import { DEFAULT_COST_OPTIONS, type CostOptions, type Workload } from "./cost-options.js";
import { PlanInputError } from "./errors.js";

/** Inputs of {@link makePlan} besides the model and the cluster. */
export interface PlanOptions {
  readonly dtype: WeightDType;
  /** Tokens per sequence (KV cache sizing, decode costing); default the model's context length. */
  readonly context?: number;
  /** Sequences decoding at once; default 1. */
  readonly concurrency?: number;
  /** Prompt length for time to first token; default min(1024, context). */
  readonly promptTokens?: number;
  /** Router token counts `[layer][expert]` (from `--expert-load`); enables replication of hot experts. */
  readonly expertLoad?: readonly (readonly number[])[];
  /** Extra replicas allowed per layer; default ⌊experts/4⌋ with `expertLoad`, else 0. */
  readonly replicasPerLayer?: number;
  readonly cost?: Partial<CostOptions>;
  /** Honour the cluster file's explicit `placement:` (default true). */
  readonly usePlacement?: boolean;
  /** Model preset name or directory, for the plan's `model.source`. */
  readonly modelSource?: string;
  /** Search for fixes when the plan does not fit (default true). */
  readonly fixes?: boolean;
  /** Where the cost options' software terms came from (`moe plan --calibrate`); recorded in `assumptions`. */
  readonly calibration?: Calibration;
}

/** Validated workload with defaults. */
export function resolveWorkload(cfg: ModelConfig, o: Pick<PlanOptions, "context" | "concurrency" | "promptTokens">): Workload {
  const context = o.context ?? cfg.contextLength;
  const concurrency = o.concurrency ?? 1;
  const promptTokens = o.promptTokens ?? Math.min(1024, context);
  const int = (v: number, name: string, max: number) => {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new PlanInputError(`${name} must be an integer in [1, ${max}], got ${v}`, { field: name });
  };
  int(context, "context", cfg.contextLength);
  int(concurrency, "concurrency", 1 << 20);
  int(promptTokens, "promptTokens", context);
  return { context, concurrency, promptTokens };
}

/** Cost options: defaults, then the cluster's bytes per element on the wire and the KV dtype implied by the weights (f32 → f32, else f16), then explicit overrides. */
export function resolveCostOptions(cluster: ClusterSpec, o: PlanOptions): CostOptions {
  return Object.freeze({
    ...DEFAULT_COST_OPTIONS,
    wireBytesPerElement: cluster.wireBytesPerElement ?? 4,
    // An f32 model runs the f32 engine, whose KV cache is f32 too.
    kvBytesPerElement: o.dtype === "f32" ? 4 : 2,
    ...(o.cost ?? {}),
  });
}

