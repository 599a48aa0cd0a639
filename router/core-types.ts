/**
 * What {@link RouterCore} exchanges with the rest of the router: the rows of a dispatch, the transport it
 * calls expert hosts through, the expert placement, its options, the load it counts, and the MoE step a
 * stage asks of it. Types and the placement key only.
 */
import type { RouterCore } from "./core.js";

/** Rows handed to an expert host. */
export interface DispatchRows {
  /** Sequence id per row, [R]. */
  readonly seq: Uint32Array;
  /** Position per row, [R]. */
  readonly pos: Uint32Array;
  /** Row index in the router's batch, [R]. */
  readonly row: Uint32Array;
  /** [R, D] f32. */
  readonly hidden: Float32Array;
}

/** The rows of one expert in a dispatch to a host. */
export interface DispatchPart {
  readonly expert: number;
  readonly rows: DispatchRows;
}

/** How the router reaches expert hosts (ZeroMQ in production; anything in tests). */
export interface ExpertTransport {
  /**
   * Run the parts (rows of several experts of one layer) on `host` in one round trip; resolves to
   * one `[R_i, D]` output per part, or rejects (error, deadline).
   */
  call(host: string, layer: number, parts: readonly DispatchPart[], deadline: number): Promise<Float32Array[]>;
}

/** (layer, expert) → hosts holding it (replicas), from plan.json's `experts`. */
export type ExpertPlacement = ReadonlyMap<string, readonly string[]>;

/** Key of a (layer, expert) pair in an {@link ExpertPlacement}. */
export const placementKey = (layer: number, expert: number): string => `${layer}:${expert}`;

/** Router options. */
export interface RouterCoreOptions {
  /** Longest wait for one dispatch before trying another replica (ms). Default 5000. */
  readonly dispatchTimeoutMs?: number;
  /**
   * Share of an expert's rows per replica (plan.json `experts[].weights`, same order as its hosts), by
   * placement key. A group of rows for a replicated expert is split across its healthy replicas in these
   * proportions (EPLB-style, weighted by host speed); without weights the whole group goes to one replica.
   */
  readonly replicaWeights?: ReadonlyMap<string, readonly number[]>;
  /**
   * When every replica of an expert has failed, hold the rows until {@link RouterCore.setPlacement} brings a
   * new placement (the coordinator re-planned after losing a host) or the request's deadline passes, then
   * dispatch them to the new hosts. Default false: fail at once with ExpertUnavailableError.
   */
  readonly holdForPlacement?: boolean;
  /** Clock (ms), for tests. */
  readonly now?: () => number;
}

/** Per-expert token counts: counts[layer][expert] = rows routed so far. */
export type ExpertLoad = number[][];

/** The MoE step a stage needs from its router (structurally the stages' `MoeStep` port). */
export interface MoeRouter {
  moe(layer: number, m: Float32Array, seq: Uint32Array, pos: Uint32Array, deadline: number): Promise<Float32Array>;
}
