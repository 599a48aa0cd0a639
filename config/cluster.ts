/**
 * The cluster file, parsed once: YAML → zod → frozen {@link ClusterConfig},
 * which hands each part its slice:
 *
 * - `planning` (the planner: hosts as written with their devices, memory,
 *   bandwidth, compute, network and roles; placement; the bytes a hidden
 *   element weighs on the wire);
 * - `runtime` (`moe up`, `moe node`, the CLI: wire dtype, CURVE, NATS,
 *   deadlines in ms, and per host its address, ports and threads).
 *
 * Every error names the file, the line and the field.
 */
import { readFileSync } from "node:fs";
import { LineCounter, isMap, isScalar, parseDocument, type Document } from "yaml";
import { ConfigError } from "./errors.js";
import { describeIssues, type Locate } from "./issues.js";
import { clusterFileSchema, expandNames, type ClusterFile, type FileDType, type Role } from "./schema.js";

/** Network of a host or of the cluster, base units; absent fields take the planner's defaults. */
export interface NetworkConfig {
  /** Bytes/s one way. */
  readonly bandwidth?: number;
  /** One-way latency per message, seconds. */
  readonly latency?: number;
}

/** One `hosts:` entry as the planner needs it (before `count` expansion and the catalogue). */
export interface PlanningHostConfig {
  readonly name: string;
  /** `hosts[i]`, for messages. */
  readonly field: string;
  readonly count?: number;
  /** Catalogue key from `gpu:` or `device:`. */
  readonly device?: string;
  /** Which of the two fields named it. */
  readonly deviceField?: "gpu" | "device";
  /** Bytes. */
  readonly memory?: number;
  /** Bytes. */
  readonly reserve?: number;
  /** Bytes/s. */
  readonly memoryBandwidth?: number;
  /** FLOP/s, for every dtype or per dtype (`fp16` read as `f16`). */
  readonly compute?: number | Readonly<Record<string, number | undefined>>;
  readonly network?: NetworkConfig;
  readonly roles?: readonly Role[];
  readonly executionProvider?: string;
  /** Machine the host runs on: hosts with one address share its CPU cores. */
  readonly address?: string;
}

/** Explicit placement (same shape as plan.json's). */
export interface PlacementConfig {
  readonly stages: readonly { readonly host: string; readonly layers: readonly [number, number] }[];
  readonly experts: readonly { readonly layer: number; readonly expert: number; readonly hosts: readonly string[]; readonly weights?: readonly number[] }[];
  readonly routers?: readonly { readonly stage: number; readonly host: string }[];
}

/** The planner's slice. */
export interface PlanningConfig {
  readonly source: string;
  readonly name?: string;
  /** Default weight dtype for planning. */
  readonly dtype?: FileDType;
  /** Bytes of one hidden-state element on the wire: 2 with `wire_dtype: f16`, else 4. */
  readonly wireBytesPerElement: 2 | 4;
  /** Default network of the hosts. */
  readonly network?: NetworkConfig;
  readonly hosts: readonly PlanningHostConfig[];
  readonly placement?: PlacementConfig;
}

/** How `moe up` reaches a host over ssh (static mode). */
export interface SshConfig {
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

/** The host part of an ssh destination: `user@10.0.0.2` → `10.0.0.2`. */
export function sshHost(to: string): string {
  return to.slice(to.lastIndexOf("@") + 1);
}

/** One host (after `count` expansion) as the runtime needs it. */
export interface RuntimeHostConfig {
  readonly name: string;
  /** `hosts[i]` of its entry, for messages. */
  readonly field: string;
  /** Where `moe up` reaches it, e.g. 127.0.0.1 (an ssh host: its ssh address unless `address:` says otherwise). */
  readonly address?: string;
  /** Base port, or base port per role (stage, expert, router, gateway). */
  readonly ports?: number | Readonly<Record<string, number>>;
  /** onnxruntime intra-op threads per process. */
  readonly threads?: number;
  /** `moe up` starts this host's processes over ssh (static mode). */
  readonly ssh?: SshConfig;
}

/**
 * Start-up warm-up passes of `moe up` (the gateway) and `moe serve` when neither `--warmup-passes` nor the
 * cluster file's `warmup_passes:` sets them: a fresh cluster runs its first ~10–15 passes of 16 × 32 decode
 * steps at 0.7–0.8 of its steady rate (README, "Start-up warm-up").
 */
export const DEFAULT_WARMUP_PASSES = 8;

/** The runtime's slice (`moe up`, `moe node`, `moe generate --cluster`, `moe status`). */
export interface RuntimeConfig {
  readonly source: string;
  readonly name?: string;
  /** dtype of hidden states on the wire (DESIGN.md §3); default f32. */
  readonly wireDtype: "f32" | "f16";
  /** CURVE encryption on the data plane; default false. */
  readonly curve: boolean;
  /** NATS URL: dynamic mode (DESIGN.md §4). */
  readonly nats?: string;
  /** Dynamic mode: hosts that must have joined before `moe up` plans (absent: the hosts listed, else 1). */
  readonly minHosts?: number;
  /** Data-plane deadlines from `timeouts:`, ms; absent ones take control/'s defaults. */
  readonly timeouts: { readonly stepMs?: number; readonly dispatchMs?: number; readonly sequenceIdleMs?: number };
  /** `warmup_passes:`: synthetic passes the gateway runs before it accepts requests (0 = none); default {@link DEFAULT_WARMUP_PASSES}. */
  readonly warmupPasses: number;
  readonly hosts: readonly RuntimeHostConfig[];
}

/** A parsed cluster file. */
export interface ClusterConfig {
  /** The file (or `<cluster>`). */
  readonly source: string;
  /** `name:`. */
  readonly name?: string;
  /** `model:`: a preset name, a model directory or a GGUF file (relative to the file or the working directory). */
  readonly model?: string;
  readonly planning: PlanningConfig;
  readonly runtime: RuntimeConfig;
  /** Line of a field path in the file, for messages about it (undefined when unknown). */
  readonly locate: Locate;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

const secondsToMs = (s: number | undefined) => (s === undefined ? undefined : Math.max(1, Math.round(s * 1000)));
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

type FileHost = NonNullable<ClusterFile["hosts"]>[number];

function sshOf(h: FileHost): SshConfig | undefined {
  if (h.ssh === undefined) return undefined;
  return typeof h.ssh === "string" ? { to: h.ssh } : defined({ ...h.ssh, options: h.ssh.options ? [...h.ssh.options] : undefined });
}

/** The data plane reaches an ssh host at its ssh address unless `address:` says otherwise. */
const addressOf = (h: FileHost): string | undefined => h.address ?? (h.ssh === undefined ? undefined : sshHost(typeof h.ssh === "string" ? h.ssh : h.ssh.to));

function planningHost(h: FileHost, i: number): PlanningHostConfig {
  const compute = typeof h.compute === "object" ? defined({ ...h.compute }) : h.compute;
  return defined({
    name: h.name,
    field: `hosts[${i}]`,
    count: h.count,
    device: h.gpu ?? h.device,
    deviceField: h.gpu !== undefined ? ("gpu" as const) : h.device !== undefined ? ("device" as const) : undefined,
    memory: h.memory,
    reserve: h.reserve,
    memoryBandwidth: h.memory_bandwidth,
    compute: compute as PlanningHostConfig["compute"],
    network: h.network ? defined({ ...h.network }) : undefined,
    roles: h.roles,
    executionProvider: h.execution_provider,
    address: addressOf(h),
  });
}

/**
 * Validate a cluster object (already parsed from YAML/JSON) and cut it into slices.
 * @param source names the file in messages; `locate` maps a field path to a line
 * @throws ConfigError naming the file, line and field
 */
export function parseClusterConfig(raw: unknown, source = "<cluster>", locate: Locate = () => undefined): ClusterConfig {
  const r = clusterFileSchema.safeParse(raw);
  if (!r.success) throw describeIssues(r.error.issues, locate, source);
  const c = r.data;
  const planning: PlanningConfig = defined({
    source,
    name: c.name,
    dtype: c.dtype,
    wireBytesPerElement: c.wire_dtype === "f16" ? (2 as const) : (4 as const),
    network: c.network ? defined({ ...c.network }) : undefined,
    hosts: (c.hosts ?? []).map(planningHost),
    placement: c.placement as PlacementConfig | undefined,
  });
  const runtime: RuntimeConfig = defined({
    source,
    name: c.name,
    wireDtype: c.wire_dtype ?? "f32",
    curve: c.curve ?? false,
    nats: c.nats,
    minHosts: c.min_hosts,
    timeouts: defined({ stepMs: secondsToMs(c.timeouts?.step), dispatchMs: secondsToMs(c.timeouts?.dispatch), sequenceIdleMs: secondsToMs(c.timeouts?.sequence_idle) }),
    warmupPasses: c.warmup_passes ?? DEFAULT_WARMUP_PASSES,
    hosts: (c.hosts ?? []).flatMap((h, i) => expandNames(h.name, h.count).map((name) => defined({ name, field: `hosts[${i}]`, address: addressOf(h), ports: h.ports, threads: h.threads, ssh: sshOf(h) }))),
  });
  return deepFreeze({ ...defined({ source, name: c.name, model: c.model }), planning, runtime, locate });
}

/** Parse cluster YAML text; errors carry `file:line: field: message`. */
export function parseClusterConfigYaml(text: string, source = "<cluster>"): ClusterConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new ConfigError(`${source}${line ? `:${line}` : ""}: not valid YAML: ${e.message.split("\n")[0]}`, { file: source, line, cause: e });
  }
  return parseClusterConfig(doc.toJS(), source, (path, key) => lineOf(doc, lineCounter, path, key));
}

function lineOf(doc: Document, lc: LineCounter, path: readonly PropertyKey[], key?: string): number | undefined {
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

/** Read and parse a cluster YAML file: the one place a cluster file is read. */
export function loadClusterConfig(file: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`${file}: cannot read the cluster file: ${(e as Error).message}`, { file, cause: e, fix: "pass an existing YAML file (examples in configs/clusters/)" });
  }
  return parseClusterConfigYaml(text, file);
}
