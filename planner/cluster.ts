/**
 * The cluster as the planner sees it: hosts resolved against the device
 * catalogue into frozen {@link ClusterSpec} objects in base units. The file
 * itself is parsed by config/ (once, for every part); {@link resolveCluster}
 * takes its planning slice, structurally: the planner depends on model/ only.
 */
import { DEVICES, EXECUTION_PROVIDERS, WEIGHT_DTYPES, deviceKeys, lookupDevice, type DeviceSpec, type ExecutionProvider, type WeightDType } from "./catalogue.js";
import { ClusterConfigError } from "./errors.js";

/** What a host may do (DESIGN.md §2). */
export type Role = "stage" | "expert" | "router" | "gateway";
export const ROLES: readonly Role[] = ["stage", "expert", "router", "gateway"];

/** Network of a host to the rest of the cluster. */
export interface NetworkSpec {
  /** Bytes/s one way. */
  readonly bandwidth: number;
  /** One-way latency per message, seconds (software stack included). */
  readonly latency: number;
}

/** One host (one accelerator, or one CPU process), resolved. */
export interface HostSpec {
  readonly name: string;
  /** Catalogue key when the host came from one. */
  readonly device?: string;
  /** Memory capacity, bytes. */
  readonly memoryBytes: number;
  /** Runtime/OS reserve inside `memoryBytes`, bytes. */
  readonly reserveBytes: number;
  /** Peak memory bandwidth, bytes/s. */
  readonly memoryBandwidth: number;
  /** Peak FLOP/s by weight dtype. */
  readonly compute: Readonly<Record<WeightDType, number>>;
  readonly network: NetworkSpec;
  /** Roles this host is allowed to take. */
  readonly roles: readonly Role[];
  readonly executionProvider: ExecutionProvider;
  /** The machine it runs on: hosts with the same address share its CPU cores (`machineCores`). */
  readonly address?: string;
}

/** Explicit placement (same shape as plan.json's), bypassing the planner. */
export interface PlacementSpec {
  readonly stages: readonly { readonly host: string; readonly layers: readonly [number, number] }[];
  readonly experts: readonly { readonly layer: number; readonly expert: number; readonly hosts: readonly string[]; readonly weights?: readonly number[] }[];
  readonly routers?: readonly { readonly stage: number; readonly host: string }[];
}

/** A whole cluster, resolved. */
export interface ClusterSpec {
  readonly name?: string;
  /** File it came from, for messages. */
  readonly source: string;
  /** Default weight dtype for planning. */
  readonly dtype?: WeightDType;
  /** Bytes of one hidden-state element on the wire (4 = f32, 2 = f16); default 4. */
  readonly wireBytesPerElement?: number;
  readonly hosts: readonly HostSpec[];
  readonly placement?: PlacementSpec;
}

/** Network assumed when neither the host nor the cluster says: 25 Gbit/s, 50 µs per message. */
export const DEFAULT_NETWORK: NetworkSpec = Object.freeze({ bandwidth: 25e9 / 8, latency: 50e-6 });

/** One host entry of the planning input (config/'s `PlanningHostConfig`), base units. */
export interface HostInput {
  readonly name: string;
  /** `hosts[i]`, for messages. */
  readonly field?: string;
  /** Expands the entry to `name-0` … `name-(count-1)`. */
  readonly count?: number;
  /** Catalogue key. */
  readonly device?: string;
  /** The field that named the device, for messages. */
  readonly deviceField?: "gpu" | "device";
  readonly memory?: number;
  readonly reserve?: number;
  readonly memoryBandwidth?: number;
  /** FLOP/s for every dtype, or per dtype (`fp16` = `f16`). */
  readonly compute?: number | Readonly<Record<string, number | undefined>>;
  readonly network?: { readonly bandwidth?: number; readonly latency?: number };
  readonly roles?: readonly Role[];
  readonly executionProvider?: string;
  readonly address?: string;
}

/** What the planner reads of a cluster (config/'s `PlanningConfig`). */
export interface ClusterInput {
  readonly source: string;
  readonly name?: string;
  readonly dtype?: WeightDType;
  readonly wireBytesPerElement?: number;
  readonly network?: { readonly bandwidth?: number; readonly latency?: number };
  readonly hosts: readonly HostInput[];
  readonly placement?: PlacementSpec;
}

/** Maps a field path to a line of the file, for messages (config/'s `locate`). */
export type LocateField = (path: readonly PropertyKey[]) => number | undefined;

function fail(input: ClusterInput, locate: LocateField, path: (string | number)[], field: string, message: string): never {
  const line = locate(path);
  throw new ClusterConfigError(`${input.source}${line ? `:${line}` : ""}: ${field}: ${message}`, { file: input.source, field, line });
}

function resolveHost(input: ClusterInput, h: HostInput, i: number, locate: LocateField): HostSpec[] {
  const field = h.field ?? `hosts[${i}]`;
  let dev: DeviceSpec | undefined;
  if (h.device !== undefined) {
    dev = lookupDevice(h.device);
    const f = h.deviceField ?? "device";
    if (!dev) fail(input, locate, ["hosts", i, f], `${field}.${f}`, `unknown device '${h.device}'; known devices: ${deviceKeys().join(", ")}`);
  }
  const ep = h.executionProvider ?? dev?.executionProvider ?? "cpu";
  if (!(EXECUTION_PROVIDERS as readonly string[]).includes(ep))
    fail(input, locate, ["hosts", i, "execution_provider"], `${field}.execution_provider`, `unknown execution provider '${ep}'; choose one of ${EXECUTION_PROVIDERS.join(", ")}`);
  for (const [name, v] of [["memory", h.memory ?? dev?.memoryBytes], ["memory_bandwidth", h.memoryBandwidth ?? dev?.memoryBandwidth]] as const)
    if (v === undefined) fail(input, locate, ["hosts", i], `${field}.${name}`, `missing: set 'gpu:' (or 'device:') to a catalogue device (${deviceKeys().join(", ")}) or give '${name}' explicitly`);
  const compute: Record<WeightDType, number> = { ...(dev?.compute ?? { f32: 0, bf16: 0, f16: 0, int8: 0, q8_0: 0 }) };
  if (typeof h.compute === "number") for (const d of WEIGHT_DTYPES) compute[d] = h.compute;
  else if (h.compute) {
    const c = h.compute;
    for (const d of WEIGHT_DTYPES) compute[d] = c[d] ?? (d === "f16" ? c.fp16 : undefined) ?? compute[d];
    if (!dev) for (const d of WEIGHT_DTYPES) if (!compute[d]) compute[d] = Math.max(...Object.values(c).filter((v): v is number => v !== undefined));
  }
  const defaults = input.network;
  const base = {
    device: dev?.key,
    memoryBytes: h.memory ?? dev!.memoryBytes,
    reserveBytes: h.reserve ?? dev?.reserveBytes ?? 0,
    memoryBandwidth: h.memoryBandwidth ?? dev!.memoryBandwidth,
    compute: Object.freeze(compute),
    network: Object.freeze({
      bandwidth: h.network?.bandwidth ?? defaults?.bandwidth ?? DEFAULT_NETWORK.bandwidth,
      latency: h.network?.latency ?? defaults?.latency ?? DEFAULT_NETWORK.latency,
    }),
    roles: Object.freeze([...(h.roles ?? ROLES)].sort((a, b) => ROLES.indexOf(a) - ROLES.indexOf(b))),
    executionProvider: ep as ExecutionProvider,
    ...(h.address !== undefined ? { address: h.address } : {}),
  };
  const names = h.count === undefined ? [h.name] : Array.from({ length: h.count }, (_, k) => `${h.name}-${k}`);
  return names.map((name) => Object.freeze({ name, ...base }));
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * Resolve the planning input against the device catalogue (expanding `count`).
 * @param locate line of a field path, for messages (config/ passes its own)
 * @throws ClusterConfigError naming the file, line and field (unknown device, missing memory, ...)
 */
export function resolveCluster(input: ClusterInput, locate: LocateField = () => undefined): ClusterSpec {
  const hosts = input.hosts.flatMap((h, i) => resolveHost(input, h, i, locate));
  return Object.freeze({
    source: input.source,
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.dtype !== undefined ? { dtype: input.dtype } : {}),
    ...(input.wireBytesPerElement !== undefined ? { wireBytesPerElement: input.wireBytesPerElement } : {}),
    hosts: Object.freeze(hosts),
    ...(input.placement !== undefined ? { placement: deepFreeze(structuredClone(input.placement)) as PlacementSpec } : {}),
  });
}

/** A cluster of `n` identical catalogue devices, for `moe plan --min-cluster`. */
export function uniformCluster(deviceKey: string, n: number, network: NetworkSpec = DEFAULT_NETWORK): ClusterSpec {
  const dev = lookupDevice(deviceKey);
  if (!dev) throw new ClusterConfigError(`unknown device '${deviceKey}'; known devices: ${Object.keys(DEVICES).join(", ")}`, { field: "gpu" });
  const hosts = resolveCluster({ source: `${n}× ${dev.key}`, hosts: [{ name: dev.key, device: dev.key, count: n }] }).hosts.map((h) => Object.freeze({ ...h, network }));
  return Object.freeze({ source: `${n}× ${dev.key}`, name: `${n}x-${dev.key}`, hosts: Object.freeze(hosts) });
}
