/**
 * The cluster spec: the YAML file that `moe plan` and `moe up` read.
 *
 * Parsed once with zod (unknown fields rejected, every message names the
 * field path and, for YAML input, the line), then resolved against the
 * device catalogue into frozen {@link ClusterSpec} objects in base units.
 */
import { readFileSync } from "node:fs";
import { LineCounter, isMap, isScalar, parseDocument, type Document } from "yaml";
import { z } from "zod";
import { DEVICES, EXECUTION_PROVIDERS, WEIGHT_DTYPES, deviceKeys, lookupDevice, type DeviceSpec, type ExecutionProvider, type WeightDType } from "./catalogue.js";
import { ClusterConfigError } from "./errors.js";
import { parseQuantity, type QuantityKind } from "./units.js";

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
  /** Where `moe up` reaches it (e.g. 127.0.0.1); not used by the planner. */
  readonly address?: string;
  /** Base port or per-role ports; not used by the planner. */
  readonly ports?: number | Readonly<Record<string, number>>;
  /** onnxruntime intra-op threads per process; not used by the planner. */
  readonly threads?: number;
  /** `moe up` starts this host's processes over ssh (static mode); not used by the planner. */
  readonly ssh?: SshSpec;
}

/** How `moe up` reaches a host over ssh. */
export interface SshSpec {
  /** `user@host` (or `host`) as ssh takes it. */
  readonly to: string;
  readonly port?: number;
  /** Private key file (`ssh -i`). */
  readonly identity?: string;
  /** Working directory on the host (runtime.json, keys, weights, logs); default `.moe/remote/<cluster>` under the login directory. */
  readonly dir?: string;
  /** Command that runs `moe` there (default `moe`). */
  readonly moe?: string;
  /** Extra ssh options (`-o` values, e.g. `StrictHostKeyChecking=accept-new`). */
  readonly options?: readonly string[];
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
  /** Model preset name or directory. */
  readonly model?: string;
  /** Default weight dtype for planning. */
  readonly dtype?: WeightDType;
  /** Dtype of hidden states on the wire (DESIGN.md §3). */
  readonly wireDtype?: "f32" | "f16";
  /** CURVE encryption on the data plane. */
  readonly curve?: boolean;
  /** NATS URL: dynamic mode (DESIGN.md §4). */
  readonly nats?: string;
  /** Dynamic mode: hosts that must have joined before `moe up` plans (default: the hosts listed, else 1). */
  readonly minHosts?: number;
  /** Data-plane deadlines, seconds (`moe up`; not used by the planner). */
  readonly timeouts?: { readonly step?: number; readonly dispatch?: number; readonly sequence_idle?: number };
  readonly hosts: readonly HostSpec[];
  readonly placement?: PlacementSpec;
}

/** Network assumed when neither the host nor the cluster says: 25 Gbit/s, 50 µs per message. */
export const DEFAULT_NETWORK: NetworkSpec = Object.freeze({ bandwidth: 25e9 / 8, latency: 50e-6 });

const quantity = (kind: QuantityKind) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    try {
      return parseQuantity(v, kind);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
  });

const dtypeSchema = z
  .enum(["f32", "bf16", "f16", "int8", "q8_0", "fp16", "fp32"])
  .transform((d) => (d === "fp16" ? "f16" : d === "fp32" ? "f32" : d) as WeightDType);

const networkSchema = z.strictObject({ bandwidth: quantity("bytesPerSecond").optional(), latency: quantity("seconds").optional() });

const computeSchema = z.union([
  quantity("flopsPerSecond"),
  z.strictObject(Object.fromEntries([...WEIGHT_DTYPES, "fp16"].map((d) => [d, quantity("flopsPerSecond").optional()]))),
]);

const port = z.number().int().min(1).max(65535);
const hostName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "host names use letters, digits, '.', '_' and '-' and start with a letter or digit");

const deviceKey = z.string().refine((k) => lookupDevice(k) !== undefined, { message: `unknown device; known devices: ${deviceKeys().join(", ")}` });

const hostSchema = z
  .strictObject({
    name: hostName,
    count: z.number().int().min(1).max(4096).optional(),
    gpu: deviceKey.optional(),
    device: deviceKey.optional(),
    memory: quantity("bytes").optional(),
    reserve: quantity("bytes").optional(),
    memory_bandwidth: quantity("bytesPerSecond").optional(),
    compute: computeSchema.optional(),
    network: networkSchema.optional(),
    roles: z.array(z.enum(ROLES as [Role, ...Role[]])).min(1).optional(),
    execution_provider: z.enum(EXECUTION_PROVIDERS as [ExecutionProvider, ...ExecutionProvider[]]).optional(),
    address: z.string().min(1).optional(),
    ports: z.union([port, z.record(z.string(), port)]).optional(),
    threads: z.number().int().min(1).max(1024).optional(),
    ssh: z
      .union([
        z.string().min(1),
        z.strictObject({
          to: z.string().min(1),
          port: port.optional(),
          identity: z.string().min(1).optional(),
          dir: z.string().min(1).optional(),
          moe: z.string().min(1).optional(),
          options: z.array(z.string().min(1)).optional(),
        }),
      ])
      .optional(),
  })
  .superRefine((h, ctx) => {
    if (h.gpu !== undefined && h.device !== undefined) ctx.addIssue({ code: "custom", path: ["device"], message: "give either 'gpu' or 'device', not both" });
    const dev = h.gpu ?? h.device;
    for (const [field, present] of [["memory", h.memory], ["memory_bandwidth", h.memory_bandwidth], ["compute", h.compute]] as const)
      if (dev === undefined && present === undefined)
        ctx.addIssue({ code: "custom", path: [field], message: `missing: set 'gpu:' (or 'device:') to a catalogue device (${deviceKeys().join(", ")}) or give '${field}' explicitly` });
    if (h.roles && new Set(h.roles).size !== h.roles.length) ctx.addIssue({ code: "custom", path: ["roles"], message: "roles are listed twice" });
    if (h.count !== undefined && h.count > 1 && h.ports !== undefined)
      ctx.addIssue({ code: "custom", path: ["ports"], message: "'ports' cannot be shared by 'count' > 1 hosts; list the hosts one by one" });
    if (h.count !== undefined && h.count > 1 && h.ssh !== undefined)
      ctx.addIssue({ code: "custom", path: ["ssh"], message: "'ssh' cannot be shared by 'count' > 1 hosts; list the hosts one by one" });
  });

const placementSchema = z.strictObject({
  stages: z.array(z.strictObject({ host: z.string(), layers: z.tuple([z.number().int().min(0), z.number().int().min(1)]) })).min(1),
  experts: z.array(
    z.strictObject({
      layer: z.number().int().min(0),
      expert: z.number().int().min(0),
      hosts: z.array(z.string()).min(1),
      weights: z.array(z.number().positive()).optional(),
    }),
  ),
  routers: z.array(z.strictObject({ stage: z.number().int().min(0), host: z.string() })).optional(),
});

/** Data-plane deadlines: one pipeline step, one expert dispatch (then another replica is tried). */
const timeoutsSchema = z.strictObject({ step: quantity("seconds").optional(), dispatch: quantity("seconds").optional(), sequence_idle: quantity("seconds").optional() });

/** zod schema of the cluster YAML (snake_case, as written). */
export const clusterFileSchema = z
  .strictObject({
    name: z.string().optional(),
    model: z.string().min(1).optional(),
    dtype: dtypeSchema.optional(),
    wire_dtype: z.enum(["f32", "f16"]).optional(),
    curve: z.boolean().optional(),
    nats: z.string().regex(/^(nats|tls|ws|wss):\/\/\S+$/, "expected a NATS URL such as nats://127.0.0.1:4222").optional(),
    min_hosts: z.number().int().min(1).max(4096).optional(),
    network: networkSchema.optional(),
    timeouts: timeoutsSchema.optional(),
    hosts: z.array(hostSchema).optional(),
    placement: placementSchema.optional(),
  })
  .superRefine((c, ctx) => {
    // dynamic mode: hosts join over NATS; listed hosts only constrain the ones with their names
    if (c.nats === undefined && !c.hosts?.length) ctx.addIssue({ code: "custom", path: ["hosts"], message: "list at least one host (or set 'nats:' for a cluster whose hosts join with `moe node --join`)" });
    if (c.min_hosts !== undefined && c.nats === undefined) ctx.addIssue({ code: "custom", path: ["min_hosts"], message: "'min_hosts' needs 'nats:' (dynamic mode)" });
    if (c.nats !== undefined) c.hosts?.forEach((h, i) => h.ssh !== undefined && ctx.addIssue({ code: "custom", path: ["hosts", i, "ssh"], message: "'ssh' starts hosts in static mode; with 'nats:' hosts join by themselves (`moe node --join`)" }));
    const names = new Map<string, number>();
    (c.hosts ?? []).forEach((h, i) => {
      for (const n of expandNames(h.name, h.count)) {
        if (names.has(n)) ctx.addIssue({ code: "custom", path: ["hosts", i, "name"], message: `host name '${n}' is used twice (also hosts[${names.get(n)}])` });
        else names.set(n, i);
      }
    });
    const known = (host: string, path: (string | number)[]) => {
      if (!names.has(host)) ctx.addIssue({ code: "custom", path, message: `no host named '${host}' in hosts` });
    };
    c.placement?.stages.forEach((s, i) => known(s.host, ["placement", "stages", i, "host"]));
    c.placement?.routers?.forEach((r, i) => known(r.host, ["placement", "routers", i, "host"]));
    c.placement?.experts.forEach((e, i) => e.hosts.forEach((h, j) => known(h, ["placement", "experts", i, "hosts", j])));
  });

/** The cluster file as written, after zod (quantities already in base units). */
export type ClusterFile = z.output<typeof clusterFileSchema>;

function expandNames(name: string, count: number | undefined): string[] {
  return count === undefined ? [name] : Array.from({ length: count }, (_, i) => `${name}-${i}`);
}

/** Resolve one validated host entry against the catalogue (may expand `count`). */
function resolveHost(h: NonNullable<ClusterFile["hosts"]>[number], defaults: ClusterFile["network"]): HostSpec[] {
  const dev: DeviceSpec | undefined = lookupDevice(h.gpu ?? h.device ?? "");
  const compute: Record<WeightDType, number> = { ...(dev?.compute ?? { f32: 0, bf16: 0, f16: 0, int8: 0, q8_0: 0 }) };
  if (typeof h.compute === "number") for (const d of WEIGHT_DTYPES) compute[d] = h.compute;
  else if (h.compute) {
    const c = h.compute as Record<string, number | undefined>;
    for (const d of WEIGHT_DTYPES) compute[d] = c[d] ?? (d === "f16" ? c.fp16 : undefined) ?? compute[d];
    if (!dev) for (const d of WEIGHT_DTYPES) if (!compute[d]) compute[d] = Math.max(...Object.values(c).filter((v): v is number => v !== undefined));
  }
  const base = {
    device: dev?.key,
    memoryBytes: h.memory ?? dev!.memoryBytes,
    reserveBytes: h.reserve ?? dev?.reserveBytes ?? 0,
    memoryBandwidth: h.memory_bandwidth ?? dev!.memoryBandwidth,
    compute: Object.freeze(compute),
    network: Object.freeze({
      bandwidth: h.network?.bandwidth ?? defaults?.bandwidth ?? DEFAULT_NETWORK.bandwidth,
      latency: h.network?.latency ?? defaults?.latency ?? DEFAULT_NETWORK.latency,
    }),
    roles: Object.freeze([...(h.roles ?? ROLES)].sort((a, b) => ROLES.indexOf(a) - ROLES.indexOf(b))),
    executionProvider: h.execution_provider ?? dev?.executionProvider ?? "cpu",
    ...(h.address !== undefined ? { address: h.address } : {}),
    ...(h.ports !== undefined ? { ports: typeof h.ports === "number" ? h.ports : Object.freeze({ ...h.ports }) } : {}),
    ...(h.threads !== undefined ? { threads: h.threads } : {}),
  };
  if (h.ssh !== undefined) {
    const ssh: SshSpec = Object.freeze(typeof h.ssh === "string" ? { to: h.ssh } : { ...h.ssh, ...(h.ssh.options ? { options: Object.freeze([...h.ssh.options]) } : {}) });
    // the data plane reaches an ssh host at its ssh address unless `address:` says otherwise
    return [Object.freeze({ name: h.name, ...base, address: h.address ?? sshHost(ssh.to), ssh })];
  }
  return expandNames(h.name, h.count).map((name) => Object.freeze({ name, ...base }));
}

/** The host part of an ssh destination: `user@10.0.0.2` → `10.0.0.2`. */
export function sshHost(to: string): string {
  return to.slice(to.lastIndexOf("@") + 1);
}

/** Turn a zod result's first issues into one actionable message. */
function describeIssues(issues: readonly z.core.$ZodIssue[], locate: (path: PropertyKey[], key?: string) => number | undefined, source: string): ClusterConfigError {
  const parts: string[] = [];
  let first: { field: string; line?: number } | undefined;
  for (const issue of issues.slice(0, 3)) {
    let path = [...issue.path];
    let msg = issue.message;
    let key: string | undefined;
    if (issue.code === "unrecognized_keys") {
      key = issue.keys[0]!;
      const allowed = allowedKeys(path);
      const near = allowed.length ? closest(key, allowed) : undefined;
      msg = `unknown field '${key}'${near ? ` (did you mean '${near}'?)` : ""}${allowed.length ? `; allowed here: ${allowed.join(", ")}` : ""}`;
      path = [...path, key];
    }
    const field = fieldPath(path);
    const line = locate(issue.path, key);
    first ??= { field, line };
    parts.push(`${source}${line ? `:${line}` : ""}: ${field || "(top level)"}: ${msg}`);
  }
  return new ClusterConfigError(parts.join("\n"), { file: source, field: first?.field, line: first?.line });
}

/** `hosts[2].network.latency` from a zod path. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`)).join("");
}

function allowedKeys(path: readonly PropertyKey[]): string[] {
  const strs = path.filter((p) => typeof p === "string") as string[];
  const shapeOf = (s: z.ZodType): Record<string, unknown> | undefined => {
    const def = (s as unknown as { def?: { shape?: Record<string, unknown>; in?: z.ZodType; schema?: z.ZodType; innerType?: z.ZodType } }).def;
    if (def?.shape) return def.shape;
    const inner = def?.in ?? def?.schema ?? def?.innerType;
    return inner ? shapeOf(inner) : undefined;
  };
  const last = strs[strs.length - 1];
  const table: Record<string, z.ZodType> = { hosts: hostSchema, network: networkSchema, placement: placementSchema, timeouts: timeoutsSchema };
  const schema = last === undefined ? clusterFileSchema : table[last];
  const shape = schema ? shapeOf(schema) : undefined;
  return shape ? Object.keys(shape) : [];
}

function closest(word: string, options: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const d = editDistance(word.toLowerCase(), o.toLowerCase());
    if (d < bestD) (bestD = d), (best = o);
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * Validate and resolve a cluster object (already parsed from YAML/JSON).
 * `source` names the file in messages; `locate` maps a field path to a line.
 */
export function parseCluster(raw: unknown, source = "<cluster>", locate: (path: PropertyKey[], key?: string) => number | undefined = () => undefined): ClusterSpec {
  const r = clusterFileSchema.safeParse(raw);
  if (!r.success) throw describeIssues(r.error.issues, locate, source);
  const c = r.data;
  const hosts = (c.hosts ?? []).flatMap((h) => resolveHost(h, c.network));
  return Object.freeze({
    source,
    ...(c.name !== undefined ? { name: c.name } : {}),
    ...(c.model !== undefined ? { model: c.model } : {}),
    ...(c.dtype !== undefined ? { dtype: c.dtype } : {}),
    ...(c.wire_dtype !== undefined ? { wireDtype: c.wire_dtype } : {}),
    ...(c.curve !== undefined ? { curve: c.curve } : {}),
    ...(c.nats !== undefined ? { nats: c.nats } : {}),
    ...(c.min_hosts !== undefined ? { minHosts: c.min_hosts } : {}),
    ...(c.timeouts !== undefined ? { timeouts: Object.freeze({ ...c.timeouts }) } : {}),
    hosts: Object.freeze(hosts),
    ...(c.placement !== undefined ? { placement: deepFreeze(c.placement) as PlacementSpec } : {}),
  });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Parse cluster YAML text; errors carry `file:line: field: message`. */
export function parseClusterYaml(text: string, source = "<cluster>"): ClusterSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new ClusterConfigError(`${source}${line ? `:${line}` : ""}: not valid YAML: ${e.message.split("\n")[0]}`, { file: source, line, cause: e });
  }
  return parseCluster(doc.toJS(), source, (path, key) => lineOf(doc, lineCounter, path, key));
}

function lineOf(doc: Document, lc: LineCounter, path: PropertyKey[], key?: string): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as (string | number)[], true) as { range?: [number, number, number] } | undefined;
    if (!node || !node.range) continue;
    if (key !== undefined && n === path.length && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      const kr = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      if (kr) return lc.linePos(kr[0]).line;
    }
    return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Read and parse a cluster YAML file. */
export function loadCluster(file: string): ClusterSpec {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ClusterConfigError(`${file}: cannot read the cluster file: ${(e as Error).message}`, { file, cause: e, fix: "pass an existing YAML file to --cluster (examples in configs/clusters/)" });
  }
  return parseClusterYaml(text, file);
}

/** A cluster of `n` identical catalogue devices, for `moe plan --min-cluster`. */
export function uniformCluster(deviceKey: string, n: number, network: NetworkSpec = DEFAULT_NETWORK): ClusterSpec {
  const dev = lookupDevice(deviceKey);
  if (!dev) throw new ClusterConfigError(`unknown device '${deviceKey}'; known devices: ${Object.keys(DEVICES).join(", ")}`, { field: "gpu" });
  const hosts = parseCluster({ hosts: [{ name: dev.key, device: dev.key, count: n }] }).hosts.map((h) => Object.freeze({ ...h, network }));
  return Object.freeze({ source: `${n}× ${dev.key}`, name: `${n}x-${dev.key}`, hosts: Object.freeze(hosts) });
}
