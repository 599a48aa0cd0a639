/**
 * The control plane of dynamic mode over NATS (DESIGN.md §4): subjects and
 * the JSON messages on them, each validated with zod when received. One NATS
 * server (or account) serves one cluster; every subject starts with a prefix
 * (default `moe`).
 *
 * | subject | from → to | message |
 * |---|---|---|
 * | `<p>.hb` | node → coordinator, every heartbeat period | {@link Heartbeat} |
 * | `<p>.bye` | node → coordinator, when it stops | {@link Bye} |
 * | `<p>.plan` | coordinator → nodes | {@link PlanMessage} (phase 1: prepare) |
 * | `<p>.activate` | coordinator → nodes | {@link ActivateMessage} (phase 2: switch) |
 * | `<p>.plan.get` | node → coordinator, request | reply {@link PlanState} |
 * | `<p>.weights` | node → coordinator, request | {@link ChunkRequest}; reply: the bytes (see weight-transfer.ts) |
 * | `<p>.status` | anyone → coordinator, request | reply {@link ClusterStatusMessage} |
 * | `<p>.rebalance` | `moe cluster rebalance` → coordinator, request | reply `{version, seconds, hosts}` or `{error}` |
 */
import { z } from "zod";
import { manifestSchema, type WeightManifest } from "./weights.js";
import type { Runtime } from "./runtime.js";
import { ControlError } from "./errors.js";

/** Subjects under a prefix. */
export function subjects(prefix = "moe") {
  return Object.freeze({
    heartbeat: `${prefix}.hb`,
    bye: `${prefix}.bye`,
    plan: `${prefix}.plan`,
    activate: `${prefix}.activate`,
    planGet: `${prefix}.plan.get`,
    weights: `${prefix}.weights`,
    status: `${prefix}.status`,
    rebalance: `${prefix}.rebalance`,
  });
}
export type Subjects = ReturnType<typeof subjects>;

/** What a node is doing. */
export const NODE_STATES = ["idle", "fetching", "loading", "prepared", "ready", "failed"] as const;
export type NodeState = (typeof NODE_STATES)[number];

const hostName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/).max(128);

/** Capabilities as a cluster-file host entry (snake_case, quantities as numbers in base units or strings). */
const capabilitiesSchema = z.looseObject({
  device: z.string().optional(),
  memory: z.union([z.number(), z.string()]).optional(),
  memory_bandwidth: z.union([z.number(), z.string()]).optional(),
  compute: z.union([z.number(), z.string()]).optional(),
  threads: z.number().int().min(1).max(1024),
  execution_provider: z.string().optional(),
  roles: z.array(z.string()).optional(),
});

/** A node's heartbeat: who it is, what it can do, what it is doing. */
export const heartbeatSchema = z.strictObject({
  v: z.literal(1),
  name: hostName,
  /** Address peers reach its data-plane sockets at. */
  address: z.string().min(1),
  pid: z.number().int(),
  /** First of `portCount` consecutive free TCP ports it offers for its processes. */
  basePort: z.number().int().min(1).max(65535),
  portCount: z.number().int().min(2),
  capabilities: capabilitiesSchema,
  state: z.enum(NODE_STATES),
  /** The plan the state refers to (0/0: none yet). */
  epoch: z.number().int().min(0),
  version: z.number().int().min(0),
  /** Weight download progress while fetching. */
  progress: z.strictObject({ bytes: z.number().min(0), total: z.number().min(0), bytesPerSecond: z.number().min(0), file: z.string() }).optional(),
  error: z.string().optional(),
  /** Processes it runs now. */
  processes: z.array(z.strictObject({ name: z.string(), role: z.string(), endpoint: z.string() })),
  startedAt: z.number(),
  seq: z.number().int().min(0),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

export const byeSchema = z.strictObject({ v: z.literal(1), name: hostName, pid: z.number().int(), reason: z.string() });
export type Bye = z.infer<typeof byeSchema>;

/** Phase 1 of a plan: every node takes its processes, fetches its weights, loads, and reports `prepared`. */
export const planMessageSchema = z.strictObject({
  v: z.literal(1),
  /** Coordinator start time (ms); a newer coordinator's plans win. */
  epoch: z.number().int().min(1),
  /** Plan version within the epoch, from 1. */
  version: z.number().int().min(1),
  /** Why this plan: `initial`, `lost <host>`, `rebalance`, `stop`. */
  reason: z.string(),
  /** The whole runtime.json (validated by readRuntime's schema on the node). */
  runtime: z.record(z.string(), z.unknown()),
  /** Host → the files it must hold (its weights). */
  weights: z.record(z.string(), manifestSchema),
});
export interface PlanMessage {
  readonly v: 1;
  readonly epoch: number;
  readonly version: number;
  readonly reason: string;
  readonly runtime: Runtime;
  readonly weights: Readonly<Record<string, WeightManifest>>;
}

/** Phase 2: every node switches to plan (epoch, version). */
export const activateSchema = z.strictObject({ v: z.literal(1), epoch: z.number().int().min(1), version: z.number().int().min(1) });
export type ActivateMessage = z.infer<typeof activateSchema>;

/** The coordinator's current plan (reply to `plan.get`); `plan: null` before the first. */
export const planStateSchema = z.strictObject({ plan: planMessageSchema.nullable(), active: z.boolean() });
export interface PlanState {
  readonly plan: PlanMessage | null;
  readonly active: boolean;
}

const memberSchema = z.strictObject({
  name: z.string(),
  address: z.string(),
  state: z.string(),
  /** Lost: heartbeats stopped; the plan no longer uses it. */
  lost: z.boolean(),
  epoch: z.number(),
  version: z.number(),
  /** ms since its last heartbeat. */
  lastSeenMs: z.number(),
  processes: z.array(z.strictObject({ name: z.string(), role: z.string(), endpoint: z.string() })),
  progress: heartbeatSchema.shape.progress,
  error: z.string().optional(),
  /** In the current plan. */
  assigned: z.boolean(),
});

/** What `moe status --nats` prints: the coordinator's view. */
export const clusterStatusSchema = z.strictObject({
  v: z.literal(1),
  cluster: z.string(),
  coordinator: z.strictObject({ pid: z.number(), host: z.string(), startedAt: z.number() }),
  /** `waiting` (for hosts), `loading`, `serving`, `replanning`, `stopped`. */
  phase: z.string(),
  epoch: z.number(),
  version: z.number(),
  gateway: z.string().nullable(),
  minHosts: z.number(),
  members: z.array(memberSchema),
  /** Re-plans so far, latest last. */
  replans: z.array(z.strictObject({ version: z.number(), reason: z.string(), at: z.number(), seconds: z.number().nullable() })),
});
export type ClusterStatusMessage = z.infer<typeof clusterStatusSchema>;
export type MemberStatus = z.infer<typeof memberSchema>;

/** A NATS message that is not what its subject carries. */
export class ControlMessageError extends ControlError {
  constructor(message: string) {
    super("CONTROL_MESSAGE", message);
  }
}

const te = new TextEncoder();
const td = new TextDecoder();

/** JSON bytes of a message. */
export function encodeJson(value: unknown): Uint8Array {
  return te.encode(JSON.stringify(value));
}

/**
 * Parse and validate a message. @throws ControlMessageError naming the subject and the first bad field
 */
export function decodeJson<T>(schema: z.ZodType<T>, data: Uint8Array, subject: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(td.decode(data));
  } catch (e) {
    throw new ControlMessageError(`${subject}: not JSON: ${(e as Error).message}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ControlMessageError(`${subject}: ${i.path.join(".") || "(top level)"}: ${i.message}`);
  }
  return r.data;
}
