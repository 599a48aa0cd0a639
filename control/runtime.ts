/**
 * The runtime layout of a static cluster: from a cluster spec and its plan
 * (plan.json), every process to run — one per pipeline stage (with its
 * router in-process), one per expert host, the gateway — with its endpoints,
 * threads and share of the plan. `moe up` writes it as `runtime.json` next to
 * `plan.json` in the run directory; `moe node`, `moe status` and
 * `moe generate --cluster` read it. Pure: ports come from the config or from
 * the `freePort` callback the launcher passes in.
 */
import { isIP } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import type { RuntimeConfig, RuntimeHostConfig } from "../config/index.js";
import type { ModelConfig } from "../model/index.js";
import type { ClusterSpec, HostSpec, PlanJson } from "../planner/index.js";
import { DEFAULT_STEP_DEADLINE_MS } from "../transport/index.js";
import { PlanNotServableError, RuntimeLayoutError } from "./errors.js";

/** What a process does. A router runs inside its stage's process unless the plan puts it on another host. */
export type ProcessRole = "stage" | "expert" | "router" | "gateway";

/** A stage process's share of the plan. */
export interface StageAssignment {
  /** Position in the pipeline, 0-based. */
  readonly index: number;
  /** Layer range [first, endExclusive). */
  readonly layers: readonly [number, number];
  /** Data endpoint of the next stage; null on the last stage. */
  readonly next: string | null;
  /** Name of the co-located router (sender name on dispatches). */
  readonly router: string;
  /** Host the plan put the router on. */
  readonly plannedRouterHost: string;
  /** Data endpoint of this stage's router process when it runs on another host; null: in this process. */
  readonly routerEndpoint?: string | null;
}

/** A router process's share of the plan: the stage it serves. */
export interface RouterAssignment {
  readonly index: number;
  readonly layers: readonly [number, number];
}

/** One process of the cluster. */
export interface RuntimeProcess {
  /** Unique name: `gateway`; else the host name when the host runs one stage or expert process, else `<host>-stage<i>` / `<host>-experts`. */
  readonly name: string;
  /** Cluster host it belongs to. */
  readonly host: string;
  readonly role: ProcessRole;
  /** Where peers connect: `tcp://address:port` (ZeroMQ); the gateway's is its HTTP base URL. */
  readonly endpoint: string;
  /** Where the process binds (`tcp://ip:port`; the gateway: `ip:port`). */
  readonly bind: string;
  /** Control endpoint (ZeroMQ, answers `ping` with the process's status): `tcp://address:port`. */
  readonly control: string;
  readonly controlBind: string;
  /** onnxruntime intra-op threads. */
  readonly threads: number;
  readonly executionProvider: "cpu" | "cuda";
  /** True when the machine that computed this runtime starts it (`moe up`); others run `moe node` themselves. */
  readonly local: boolean;
  readonly stage?: StageAssignment;
  /** The stage a router process serves. */
  readonly routerOf?: RouterAssignment;
  /** (layer, expert) pairs held by an expert process. */
  readonly experts?: readonly (readonly [number, number])[];
}

/** The whole runtime layout (runtime.json). */
export interface Runtime {
  readonly version: 1;
  /** Cluster name (the YAML `name:`, else the file's base name). */
  readonly cluster: string;
  /** Absolute path of the cluster file. */
  readonly source: string;
  /** Absolute run directory holding runtime.json, plan.json, logs/ and expert-load.json. */
  readonly runDir: string;
  readonly createdAt: string;
  /** pid of the `moe up` that owns the local processes, while it runs. */
  readonly launcherPid?: number;
  /** When that launcher stopped the cluster (ISO 8601). */
  readonly stoppedAt?: string;
  readonly model: {
    /** Absolute model directory or GGUF file every process opens (with parts: one of them, for the config and tokenizer). */
    readonly path: string;
    /** Host → its part of the model (`moe model slice`), opened instead of `path` by that host's processes. */
    readonly parts?: Readonly<Record<string, string>>;
    readonly name: string;
    readonly layers: number;
    readonly experts: number;
    readonly dModel: number;
    readonly vocabSize: number;
  };
  readonly wireDtype: "f32" | "f16";
  /** CURVE keys directory (`moe keys --out DIR`), or null when the data plane is not encrypted. */
  readonly curve: { readonly keysDir: string } | null;
  readonly timeouts: {
    /** Deadline of one pipeline step, ms. */
    readonly stepMs: number;
    /** Longest wait for one expert dispatch before another replica is tried, ms. */
    readonly dispatchMs: number;
    /** A stage frees a sequence not stepped for this long (its client never released it), ms. */
    readonly sequenceIdleMs: number;
  };
  /** Stage process names in pipeline order. */
  readonly stages: readonly string[];
  /** Cluster host → data endpoint of its expert process (the names used in `experts[].hosts`). */
  readonly expertHosts: Readonly<Record<string, string>>;
  /** (layer, expert) → hosts holding it (replicas) and each replica's share of its rows, from the plan. */
  readonly experts: readonly { readonly layer: number; readonly expert: number; readonly hosts: readonly string[]; readonly weights?: readonly number[] }[];
  /** Name of the gateway process, or null. */
  readonly gateway: string | null;
  /** Gateway scheduler limits (plan.json's `limits`), or null for the gateway's defaults. */
  readonly limits: { readonly maxRunningSequences: number; readonly maxQueued: number } | null;
  /**
   * Start-up warm-up the gateway runs through the cluster before it listens (`passes: 0`: none). Absent in a
   * runtime.json written before it existed: no warm-up.
   */
  readonly warmup?: { readonly passes: number };
  readonly processes: readonly RuntimeProcess[];
  /**
   * Dynamic mode (DESIGN.md §4): the coordinator's NATS URL and which plan this is. Absent in static mode.
   * Routers then hold a dispatch whose every replica is gone until the coordinator's re-plan arrives.
   */
  readonly dynamic?: { readonly nats: string; readonly epoch: number; readonly version: number };
}

/** Inputs of {@link computeRuntime}. */
export interface RuntimeInput {
  /** The planner's view of the cluster: host names, roles, execution providers. */
  readonly cluster: ClusterSpec;
  /** The cluster file's runtime slice (config/): addresses, ports, threads, deadlines, CURVE, wire dtype. */
  readonly settings: RuntimeConfig;
  readonly plan: Pick<PlanJson, "fits" | "stages" | "routers" | "gateway" | "experts" | "shortfall">;
  readonly model: { readonly path: string; readonly config: ModelConfig; readonly parts?: Readonly<Record<string, string>> };
  readonly runDir: string;
  /** Start a gateway (default true, when a host allows the role). */
  readonly gateway?: boolean;
  /** Gateway HTTP port (overrides the config; 0 = ephemeral). Default: the config's, else 8000. */
  readonly gatewayPort?: number;
  /** CURVE keys directory when the cluster has `curve: true`. */
  readonly curveKeysDir?: string;
  /** Overrides of the cluster file's `timeouts:`, ms. */
  readonly timeouts?: { readonly stepMs?: number; readonly dispatchMs?: number; readonly sequenceIdleMs?: number };
  /** Gateway scheduler limits (plan.json's `limits`). */
  readonly limits?: { readonly maxRunningSequences: number; readonly maxQueued: number };
  /** A free TCP port on this machine, for local hosts without `ports:`. */
  readonly freePort: () => number;
  /** Whether an address belongs to this machine (default {@link isLocalAddress}). */
  readonly isLocal?: (address: string | undefined) => boolean;
  readonly now?: () => Date;
}

/** Default deadline of one pipeline step, ms (transport's, the one place it is set). */
export const DEFAULT_STEP_MS = DEFAULT_STEP_DEADLINE_MS;
/** Default wait for one expert dispatch, ms. */
export const DEFAULT_DISPATCH_MS = 5_000;
/** Default idle time after which a stage reclaims a sequence nobody released (5 minutes). */
export const DEFAULT_SEQUENCE_IDLE_MS = 300_000;
/** Default gateway HTTP port. */
export const DEFAULT_GATEWAY_PORT = 8000;

/** Keys a per-role `ports:` map may have. */
const PORT_KEYS = ["stage", "expert", "router", "gateway"] as const;

/** True for a missing address, loopback, this machine's host name, or one of its interface addresses. */
export function isLocalAddress(address: string | undefined): boolean {
  if (address === undefined || address === "localhost" || address === "::1" || address.startsWith("127.")) return true;
  if (address === hostname()) return true;
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === address));
}

/** The interface to bind for an address: IP literals as-is, `localhost` → 127.0.0.1, other names → all interfaces. */
export function bindHost(address: string | undefined): string {
  if (address === undefined || address === "localhost") return "127.0.0.1";
  return isIP(address) ? address : "0.0.0.0";
}

function tcp(host: string, port: number): string {
  return `tcp://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/**
 * Hands out ports for one host. Every process takes two: data and control
 * (data + 1). `ports: N` gives the host's processes N, N+2, ... in order;
 * `ports: {stage: A, expert: B, gateway: C}` gives each role its own base;
 * without `ports:` a local host takes free ports.
 */
class PortPlan {
  private nextBase: number | undefined;
  private readonly used = new Map<string, number>();

  constructor(
    private readonly host: RuntimeHostConfig,
    private readonly field: string,
    private readonly local: boolean,
    private readonly freePort: () => number,
  ) {
    const p = host.ports;
    if (typeof p === "number") this.nextBase = p;
    else if (p !== undefined)
      for (const k of Object.keys(p))
        if (!(PORT_KEYS as readonly string[]).includes(k))
          throw new RuntimeLayoutError(`${field}.ports.${k}: unknown role '${k}'; per-role ports use ${PORT_KEYS.join(", ")}`, { host: host.name, field: `${field}.ports.${k}` });
  }

  /** [data port, control port] of the next process of `role` on this host. */
  take(role: ProcessRole): [number, number] {
    const p = this.host.ports;
    if (typeof p === "number") {
      const base = this.nextBase!;
      this.nextBase = base + 2;
      return [this.check(base), this.check(base + 1)];
    }
    const rolePort = p?.[role];
    if (rolePort !== undefined) {
      const k = this.used.get(role) ?? 0;
      this.used.set(role, k + 1);
      return [this.check(rolePort + 2 * k), this.check(rolePort + 2 * k + 1)];
    }
    if (!this.local)
      throw new RuntimeLayoutError(`${this.field}.ports: host '${this.host.name}' is on another machine (${this.host.address}) and has no port for its ${role} process`, {
        host: this.host.name,
        field: `${this.field}.ports`,
        fix: `give '${this.host.name}' a base port (ports: 7100) or per-role ports (ports: {${role}: 7100})`,
      });
    return [this.freePort(), this.freePort()];
  }

  private check(port: number): number {
    if (port > 65535) throw new RuntimeLayoutError(`${this.field}.ports: port ${port} of host '${this.host.name}' is above 65535`, { host: this.host.name, field: `${this.field}.ports` });
    return port;
  }
}

interface Draft {
  host: HostSpec;
  role: ProcessRole;
  stage?: { index: number; layers: readonly [number, number]; plannedRouterHost: string };
  routerOf?: RouterAssignment;
  experts?: [number, number][];
}

/**
 * Lay the plan out as processes with endpoints.
 * @throws PlanNotServableError when the plan does not fit; RuntimeLayoutError naming the host and field
 */
export function computeRuntime(input: RuntimeInput): Runtime {
  const { cluster, plan, model } = input;
  const cfg = model.config;
  if (!plan.fits)
    throw new PlanNotServableError(`${cluster.source}: the plan does not fit: ${plan.shortfall?.reason ?? "over capacity"}`, {
      file: cluster.source,
      fix: "run `moe plan --cluster FILE` to see what is missing",
    });
  const settings = input.settings;
  const hostIndex = new Map(cluster.hosts.map((h, i) => [h.name, i]));
  const byName = new Map(settings.hosts.map((h) => [h.name, h]));
  const runtimeHost = (name: string): RuntimeHostConfig => byName.get(name) ?? { name, field: `hosts[${hostIndex.get(name)}]` };
  const hostOf = (name: string, field: string): HostSpec => {
    const i = hostIndex.get(name);
    if (i === undefined) throw new RuntimeLayoutError(`${field}: no host named '${name}' in the cluster file`, { field, file: cluster.source });
    return cluster.hosts[i]!;
  };
  const drafts: Draft[] = plan.stages.map((s, index) => ({
    host: hostOf(s.host, `placement.stages[${index}].host`),
    role: "stage",
    stage: { index, layers: [s.layers[0], s.layers[1]] as const, plannedRouterHost: plan.routers.find((r) => r.stage === index)?.host ?? s.host },
  }));
  // a router the plan puts on another host than its stage runs as a process of its own there
  for (const d of [...drafts]) {
    const s = d.stage!;
    if (s.plannedRouterHost !== d.host.name)
      drafts.push({ host: hostOf(s.plannedRouterHost, `placement.routers (stage ${s.index})`), role: "router", routerOf: { index: s.index, layers: s.layers } });
  }
  const held = new Map<string, [number, number][]>();
  for (const x of plan.experts) for (const h of x.hosts) (held.get(h) ?? held.set(h, []).get(h)!).push([x.layer, x.expert]);
  for (const h of cluster.hosts) if (held.has(h.name)) drafts.push({ host: h, role: "expert", experts: held.get(h.name)! });
  const wantGateway = input.gateway ?? true;
  if (wantGateway && plan.gateway !== null) drafts.push({ host: hostOf(plan.gateway, "gateway"), role: "gateway" });
  // host order, then stages, experts, gateway: names and ports are stable for a given file
  drafts.sort((a, b) => hostIndex.get(a.host.name)! - hostIndex.get(b.host.name)! || order(a) - order(b));

  const isLocal = input.isLocal ?? isLocalAddress;
  const ports = new Map<string, PortPlan>();
  // data-plane processes per host: a host running one keeps the host's name
  const perHost = new Map<string, number>();
  for (const d of drafts) if (d.role !== "gateway") perHost.set(d.host.name, (perHost.get(d.host.name) ?? 0) + 1);
  const gatewayName = perHost.has("gateway") ? `${drafts.find((d) => d.role === "gateway")?.host.name}-gateway` : "gateway";
  const laid = drafts.map((d) => {
    const rh = runtimeHost(d.host.name);
    const field = rh.field;
    // a host started over ssh is never this machine's to spawn, whatever its address
    const local = rh.ssh ? false : isLocal(rh.address);
    let pp = ports.get(d.host.name);
    if (!pp) ports.set(d.host.name, (pp = new PortPlan(rh, field, local, input.freePort)));
    let [port, controlPort] = pp.take(d.role);
    if (d.role === "gateway" && input.gatewayPort !== undefined) port = input.gatewayPort;
    else if (d.role === "gateway" && rh.ports === undefined) port = DEFAULT_GATEWAY_PORT;
    const single = perHost.get(d.host.name) === 1;
    const suffix = d.role === "stage" ? `stage${d.stage!.index}` : d.role === "router" ? `router${d.routerOf!.index}` : "experts";
    const name = d.role === "gateway" ? gatewayName : single ? d.host.name : `${d.host.name}-${suffix}`;
    const address = rh.address ?? "127.0.0.1";
    const bh = bindHost(rh.address);
    const gatewayUrl = `http://${isIP(address) === 6 ? `[${address}]` : address}:${port}`;
    return {
      d,
      name,
      endpoint: d.role === "gateway" ? gatewayUrl : tcp(address, port),
      bind: d.role === "gateway" ? `${bh}:${port}` : tcp(bh, port),
      control: tcp(address, controlPort),
      controlBind: tcp(bh, controlPort),
      local,
    };
  });
  const stageProcs = laid.filter((l) => l.d.role === "stage").sort((a, b) => a.d.stage!.index - b.d.stage!.index);
  const processes: RuntimeProcess[] = laid.map((l) => {
    const base = {
      name: l.name,
      host: l.d.host.name,
      role: l.d.role,
      endpoint: l.endpoint,
      bind: l.bind,
      control: l.control,
      controlBind: l.controlBind,
      threads: runtimeHost(l.d.host.name).threads ?? 1,
      executionProvider: runnableProvider(l.d.host, runtimeHost(l.d.host.name).field),
      local: l.local,
    };
    if (l.d.role === "stage") {
      const s = l.d.stage!;
      const own = laid.find((r) => r.d.role === "router" && r.d.routerOf!.index === s.index);
      return {
        ...base,
        stage: { index: s.index, layers: s.layers, next: stageProcs[s.index + 1]?.endpoint ?? null, router: own ? own.name : `${l.name}.router`, plannedRouterHost: s.plannedRouterHost, routerEndpoint: own?.endpoint ?? null },
      };
    }
    if (l.d.role === "router") return { ...base, routerOf: l.d.routerOf! };
    if (l.d.role === "expert") return { ...base, experts: l.d.experts! };
    return base;
  });
  const seen = new Map<string, string>();
  for (const p of processes)
    for (const ep of p.role === "gateway" ? [p.control] : [p.endpoint, p.control]) {
      if (seen.has(ep)) throw new RuntimeLayoutError(`processes '${seen.get(ep)}' and '${p.name}' would both use ${ep}`, { host: p.host, process: p.name, fix: "give the hosts distinct ports" });
      seen.set(ep, p.name);
    }
  const timeouts = {
    stepMs: input.timeouts?.stepMs ?? settings.timeouts.stepMs ?? DEFAULT_STEP_MS,
    dispatchMs: input.timeouts?.dispatchMs ?? settings.timeouts.dispatchMs ?? DEFAULT_DISPATCH_MS,
    sequenceIdleMs: input.timeouts?.sequenceIdleMs ?? settings.timeouts.sequenceIdleMs ?? DEFAULT_SEQUENCE_IDLE_MS,
  };
  if (settings.curve && input.curveKeysDir === undefined)
    throw new RuntimeLayoutError(`${cluster.source}: curve: true needs a keys directory`, { field: "curve", fix: "run `moe keys --out DIR` and pass --keys DIR" });
  return {
    version: 1,
    cluster: clusterName(cluster),
    source: cluster.source,
    runDir: input.runDir,
    createdAt: (input.now?.() ?? new Date()).toISOString(),
    model: { path: model.path, ...(model.parts ? { parts: { ...model.parts } } : {}), name: cfg.name, layers: cfg.nLayers, experts: cfg.nExperts, dModel: cfg.dModel, vocabSize: cfg.vocabSize },
    wireDtype: settings.wireDtype,
    curve: settings.curve ? { keysDir: input.curveKeysDir! } : null,
    timeouts,
    stages: stageProcs.map((s) => s.name),
    expertHosts: Object.fromEntries(processes.filter((p) => p.role === "expert").map((p) => [p.host, p.endpoint])),
    experts: plan.experts.map((x) => ({ layer: x.layer, expert: x.expert, hosts: [...x.hosts], ...(x.hosts.length > 1 && x.weights?.length === x.hosts.length ? { weights: [...x.weights] } : {}) })),
    gateway: processes.find((p) => p.role === "gateway")?.name ?? null,
    limits: input.limits && input.limits.maxRunningSequences > 0 ? { maxRunningSequences: input.limits.maxRunningSequences, maxQueued: input.limits.maxQueued } : null,
    warmup: { passes: settings.warmupPasses },
    processes,
  };
}

/** The host's execution provider, when this runtime can run it (onnxruntime-node: cpu, cuda). */
function runnableProvider(h: HostSpec, field: string): "cpu" | "cuda" {
  const ep = h.executionProvider;
  if (ep === "cpu" || ep === "cuda") return ep;
  throw new RuntimeLayoutError(`${field}.execution_provider: '${ep}' cannot run here; onnxruntime-node runs cpu or cuda`, { host: h.name, field: `${field}.execution_provider`, fix: "set execution_provider: cpu or cuda (planning still accepts other devices)" });
}

function order(d: Draft): number {
  return d.role === "stage" ? d.stage!.index : d.role === "router" ? 5e5 + d.routerOf!.index : d.role === "expert" ? 1e6 : 2e6;
}

function secondsToMs(s: number | undefined): number | undefined {
  return s === undefined ? undefined : Math.max(1, Math.round(s * 1000));
}

/** The cluster's name: `name:` from the file, else the file's base name without extension. */
export function clusterName(cluster: { readonly name?: string; readonly source: string }): string {
  if (cluster.name) return cluster.name;
  const base = cluster.source.split(/[\\/]/).pop() ?? "cluster";
  return base.replace(/\.(ya?ml|json)$/i, "") || "cluster";
}

/** The process named `name`, or a RuntimeLayoutError listing the names. */
export function processByName(runtime: Runtime, name: string): RuntimeProcess {
  const p = runtime.processes.find((q) => q.name === name);
  if (!p) throw new RuntimeLayoutError(`no process named '${name}' in ${runtime.runDir}/runtime.json; processes: ${runtime.processes.map((q) => q.name).join(", ")}`, { process: name });
  return p;
}

/** Every stage's data endpoint, stage 0 first (what a pipeline client connects to). */
export function stageEndpoints(runtime: Runtime): string[] {
  return runtime.stages.map((name) => processByName(runtime, name).endpoint);
}
