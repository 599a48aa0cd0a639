/**
 * `plan.json`: what `moe plan --out` writes and `moe up` reads (DESIGN.md §5).
 * Fields named in DESIGN.md are never renamed; others may be added.
 */
import type { Calibration } from "./calibrate.js";
import type { WeightDType } from "./catalogue.js";
import type { Role } from "./cluster.js";
import type { CostOptions, Workload } from "./cost-options.js";
import type { Bottleneck, Breakdown, HostMemory } from "./predict.js";

/** A change to the inputs that makes a plan fit. */
export interface Fix {
  readonly kind: "concurrency" | "context" | "dtype" | "add-hosts";
  /** The flag or edit, e.g. `--dtype int8` or `add 1× h100-80gb`. */
  readonly change: string;
  readonly description: string;
  /** Predicted decode tokens/s per sequence after the change. */
  readonly decodeTokensPerSecond: number;
}

/** Why a plan does not fit, and what would. */
export interface Shortfall {
  /** Bytes missing: aggregate demand − usable memory, or (when the total would fit but the pieces do not pack) the extra memory per host × hosts. */
  readonly missingBytes: number;
  /** Weights + KV cache + activations the workload needs, bytes. */
  readonly neededBytes: number;
  /** Usable memory of the cluster (capacity − reserve − headroom), bytes. */
  readonly availableBytes: number;
  readonly reason: string;
  /** Fixes, smallest first (workload, then dtype, then hardware). */
  readonly fixes: readonly Fix[];
}

/** One host in a plan. */
export interface PlanHost {
  readonly name: string;
  readonly device: string | null;
  readonly executionProvider: string;
  /** Roles assigned by the plan (a subset of the host's allowed roles). */
  readonly roles: readonly Role[];
  /** Layer range of its stage, [first, endExclusive), or null. */
  readonly layers: readonly [number, number] | null;
  /** Number of (layer, expert) replicas it holds. */
  readonly expertSlots: number;
  readonly memory: HostMemory;
  /** Predicted busy time per generated token at concurrency 1, seconds. */
  readonly busySecondsPerToken: number;
  /** The machine it runs on (hosts with one address share its cores). */
  readonly address?: string;
}

/** Predicted performance. */
export interface Predicted {
  /** Tokens/s of one sequence at the planned concurrency. */
  readonly decodeTokensPerSecond: number;
  /** Tokens/s over all `concurrency` sequences. */
  readonly decodeTokensPerSecondAggregate: number;
  /** Latency of one token for a lone sequence, seconds. */
  readonly decodeSecondsPerToken: number;
  /** Seconds between two tokens of a sequence at the planned concurrency. */
  readonly stepSeconds: number;
  /** Time to first token for a `promptTokens` prompt, seconds. */
  readonly ttftSeconds: number;
  /** Tokens of KV cache the pipeline holds (all sequences together). */
  readonly kvCapacityTokens: number;
  /** Sequences of `context` tokens that fit at once. */
  readonly maxConcurrentSequences: number;
  readonly microBatches: number;
  readonly microBatchSize: number;
  readonly bottleneck: Bottleneck | { readonly kind: "memory"; readonly host: string | null; readonly resource: "memory"; readonly reason: string };
  readonly breakdown: Breakdown;
}

/** The whole `plan.json`. */
export interface PlanJson {
  readonly version: 1;
  readonly model: {
    readonly name: string;
    readonly source: string;
    readonly layers: number;
    readonly experts: number;
    readonly expertsPerToken: number;
    readonly dModel: number;
    /** All weights at `dtype`, bytes (SPEC.md §2.2). */
    readonly weightBytes: number;
    /** One expert of one layer at `dtype`, bytes. */
    readonly expertBytes: number;
    /** KV cache per token per sequence, all layers, bytes. */
    readonly kvBytesPerToken: number;
  };
  readonly dtype: WeightDType;
  readonly cluster: string;
  /** "planner": computed here; "explicit": the cluster file's `placement:`. */
  readonly placement: "planner" | "explicit";
  readonly workload: Workload;
  readonly fits: boolean;
  readonly stages: readonly { readonly host: string; readonly layers: readonly [number, number] }[];
  readonly routers: readonly { readonly stage: number; readonly host: string }[];
  readonly gateway: string | null;
  readonly experts: readonly { readonly layer: number; readonly expert: number; readonly hosts: readonly string[]; readonly weights: readonly number[] }[];
  readonly hosts: readonly PlanHost[];
  readonly predicted: Predicted;
  /** For the gateway's scheduler. */
  readonly limits: { readonly maxRunningSequences: number; readonly maxQueued: number };
  /** Why the plan looks the way it does (choices a reader might not expect). */
  readonly notes: readonly string[];
  /** Null when the plan fits. */
  readonly shortfall: Shortfall | null;
  /** The cost model's knobs; `calibration` when `moe plan --calibrate` set them from a bench. */
  readonly assumptions: CostOptions & { readonly calibration?: Calibration };
}
