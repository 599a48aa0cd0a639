/**
 * The static-mode launcher (`moe up`): cluster file → plan (the file's
 * `placement:` or the planner) → runtime layout → one `moe node` child per
 * process placed on this machine, all started at once; waits until every
 * process is ready (remote ones through their control endpoints), then
 * supervises: the routers' expert load goes to `expert-load.json`
 * periodically and on stop, and the cluster stops — SIGTERM, then SIGKILL
 * after a grace period — on `stop()` or when a child dies (unless
 * `keepGoing`). Children also exit by themselves when the launcher dies
 * (their stdin closes), so none is ever orphaned.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Logger } from "pino";
import { ENGINE_KV_BYTES_PER_ELEMENT, hugePageEnv, HUGE_PAGE_MIN_WEIGHT_BYTES, openModel, weightFileBytes, PRESETS, weightDTypeOf, type ModelConfig } from "../model/index.js";
import { DEFAULT_TINY_MODEL_DIR, ensureTinyModel } from "../factory/index.js";
import { loadClusterConfig, type ClusterConfig, type RuntimeConfig } from "../config/index.js";
import { makePlan, resolveCluster, type ClusterSpec, type PlanJson } from "../planner/index.js";
import { clientCurve, generateClusterKeys, loadClusterKeys } from "../transport/index.js";
import { describeExit, NodeChild, type ChildExit, type ReadyLine } from "./child.js";
import { moeCommand } from "./entry.js";
import { AlreadyRunningError, RuntimeLayoutError, StartupError } from "./errors.js";
import { defaultRunDir, logFile, readRuntime, RUN_FILES, writeJsonAtomic, writeRunDir } from "./files.js";
import { ClusterMonitor } from "./monitor.js";
import { engineLimits } from "./limits.js";
import { hostParts } from "./parts.js";
import { freePorts } from "./ports.js";
import { prepareSshHosts, sshHosts, sshNodeCommand, stopOnSshHost, type SshEvent, type SshHost } from "./ssh-launch.js";
import { clusterName, computeRuntime, type Runtime, type RuntimeProcess } from "./runtime.js";

/** Options of {@link launch}. */
export interface LaunchOptions {
  /** Cluster YAML. */
  readonly clusterFile: string;
  /** Model directory or GGUF file (default: the file's `model:`, else the tiny model). */
  readonly modelPath?: string;
  /**
   * Per-host parts from `moe model slice` (`DIR/<host>.gguf`): each host's processes open their part
   * instead of the whole model, which need not exist here. Slice with the plan this cluster runs.
   */
  readonly partsDir?: string;
  /** Start the gateway (default true). */
  readonly gateway?: boolean;
  /** Require `Authorization: Bearer <key>` at the gateway (default: $MOE_API_KEY of this process, if set). */
  readonly apiKey?: string;
  /**
   * A plan.json from `moe plan --out` (e.g. re-planned with `--expert-load`) to run instead of the cluster
   * file's placement or a fresh plan; it must be a plan of this cluster and model.
   */
  readonly planFile?: string;
  /** Gateway HTTP port (0 = ephemeral). */
  readonly gatewayPort?: number;
  /** Run directory (default `.moe/run/<cluster>`). */
  readonly runDir?: string;
  /** CURVE keys directory for `curve: true` (default `<runDir>/keys`, generated when missing). */
  readonly keysDir?: string;
  /** Override the file's `timeouts:`, ms. */
  readonly timeouts?: { readonly stepMs?: number; readonly dispatchMs?: number; readonly sequenceIdleMs?: number };
  /**
   * Start-up warm-up passes the gateway runs through the cluster before it listens (and before the cluster
   * is ready); overrides the file's `warmup_passes:` (default `DEFAULT_WARMUP_PASSES`); 0 = none. A
   * cluster without a gateway is not warmed.
   */
  readonly warmupPasses?: number;
  /** Longest wait for every process to be ready, ms. Default 120000. */
  readonly readyTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace period, ms. Default 5000. */
  readonly graceMs?: number;
  /** Keep serving when a child dies (default false: stop everything). */
  readonly keepGoing?: boolean;
  /**
   * Restart a local process that dies after it was ready (same name, ports and part of the plan), up to
   * `maxRestarts` times per process within `windowMs`; past that budget the usual policy applies
   * (stop everything, or keep going). A restarted stage host has lost its KV caches: the sequences it held
   * fail, new ones are served. Default: no restarts.
   */
  readonly restart?: { readonly maxRestarts?: number; readonly windowMs?: number };
  /** Period of expert-load.json updates, ms. Default 5000. */
  readonly loadIntervalMs?: number;
  /** Aborting stops whatever was started and rejects. */
  readonly signal?: AbortSignal;
  /** Progress, for the CLI. */
  readonly onEvent?: (e: LaunchEvent) => void;
  readonly logger?: Logger;
}

/** What the launcher reports while it works. */
export type LaunchEvent =
  | { readonly kind: "plan"; readonly plan: PlanJson; readonly runtime: Runtime }
  | { readonly kind: "starting"; readonly process: RuntimeProcess; readonly pid: number; readonly log: string }
  | { readonly kind: "waiting-remote"; readonly process: RuntimeProcess }
  /** The gateway runs its start-up warm-up through the cluster (every other process is ready). */
  | { readonly kind: "warming"; readonly process: RuntimeProcess; readonly passes: number }
  | { readonly kind: "ready"; readonly process: RuntimeProcess; readonly endpoint: string; readonly seconds: number; readonly warmup?: ReadyLine["warmup"] }
  | { readonly kind: "exit"; readonly process: RuntimeProcess; readonly exit: ChildExit; readonly expected: boolean }
  | { readonly kind: "restarting"; readonly process: RuntimeProcess; readonly pid: number; readonly attempt: number }
  | { readonly kind: "restart-failed"; readonly process: RuntimeProcess; readonly error: string }
  | { readonly kind: "stopping"; readonly reason: string }
  | SshEvent;

/** Why a cluster stopped. */
export interface ClusterExit {
  readonly reason: "stopped" | "child-exit";
  /** The child that died, for `child-exit`. */
  readonly process?: string;
  readonly exit?: ChildExit;
}

/** One local process as the launcher sees it. */
export interface ChildState {
  readonly name: string;
  readonly pid: number;
  readonly alive: boolean;
  readonly exit?: ChildExit;
}

/** Resolve the model path from the flag, the file's `model:` (relative to the file, then cwd) or the tiny default. */
export function resolveModelPath(flag: string | undefined, cluster: Pick<ClusterConfig, "model" | "source">): string {
  const arg = flag ?? cluster.model;
  if (arg === undefined || arg === "grok-1-tiny") return ensureTinyModel(DEFAULT_TINY_MODEL_DIR);
  if (flag === undefined && PRESETS[arg])
    throw new RuntimeLayoutError(`${cluster.source}: model: '${arg}' is a preset without weights here`, { field: "model", file: cluster.source, fix: "set `model:` to a model directory or .gguf file, or pass --model PATH" });
  const candidates = flag !== undefined ? [resolve(arg)] : [resolve(dirname(cluster.source), arg), resolve(arg)];
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new RuntimeLayoutError(`${flag !== undefined ? "--model" : `${cluster.source}: model`}: '${arg}' does not exist (looked at ${candidates.join(", ")})`, { field: "model", file: cluster.source });
  if (resolve(path) === resolve(DEFAULT_TINY_MODEL_DIR)) ensureTinyModel(path);
  return path;
}

/** A part of the slice directory that exists here (every part carries the whole model's config and vocabulary). */
function anyPart(dir: string, parts: Record<string, string>): string {
  const f = Object.values(parts).find((p) => existsSync(p));
  if (!f) throw new RuntimeLayoutError(`${resolve(dir)}: holds no part for any host of the cluster (expected <host>.gguf)`, { file: resolve(dir), fix: `moe model slice --plan plan.json --out ${dir}` });
  return f;
}

/** Bytes of a model file, or of the weight files (.gguf, .safetensors) of a model directory; 0 when unreadable. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Refuse to start over a cluster whose launcher is still alive. */
export function checkNotRunning(runDir: string): void {
  if (!existsSync(join(runDir, RUN_FILES.runtime))) return;
  let pid: number | undefined;
  try {
    pid = readRuntime(runDir).launcherPid;
  } catch {
    return; // unreadable: start afresh
  }
  if (pid !== undefined && pid !== process.pid && pidAlive(pid))
    throw new AlreadyRunningError(`a launcher (pid ${pid}) is already running this cluster from ${runDir}`, {
      file: join(runDir, RUN_FILES.runtime),
      fix: `stop it (kill ${pid}) or use another --run-dir; \`moe status --run-dir ${runDir}\` shows it`,
    });
}

/** Keys directory for `curve: true`: the given one (must hold keys) or `<runDir>/keys` (generated once). */
export function curveKeys(settings: RuntimeConfig, runDir: string, keysDir: string | undefined): string | undefined {
  if (!settings.curve) return undefined;
  const dir = resolve(keysDir ?? join(runDir, "keys"));
  if (!existsSync(join(dir, "server.key_secret"))) {
    if (keysDir !== undefined) loadClusterKeys(dir); // throws naming the missing file and the fix
    generateClusterKeys(dir);
  }
  return dir;
}

/**
 * Plan, lay out and start the processes of `clusterFile` that belong on this
 * machine; resolves once every process of the cluster is ready.
 * @throws StartupError naming the process that did not come up, with its log tail
 */
export async function launch(o: LaunchOptions): Promise<RunningCluster> {
  const config = loadClusterConfig(o.clusterFile);
  const cluster = resolveCluster(config.planning, config.locate);
  const runDir = resolve(o.runDir ?? defaultRunDir(clusterName(config)));
  checkNotRunning(runDir);
  const parts = o.partsDir !== undefined ? hostParts(o.partsDir, cluster.hosts.map((h) => h.name), new Set()) : undefined;
  const modelPath = parts ? anyPart(o.partsDir!, parts) : resolveModelPath(o.modelPath, config);
  const m = openModel(modelPath);
  const cfg = m.config;
  // plan what the engine will hold: the file's weights as stored, its f32 KV cache
  const dtype = weightDTypeOf(m.weights);
  m.close();
  const plan = o.planFile ? readPlanFile(o.planFile, cfg, cluster) : makePlan(cfg, cluster, { dtype, modelSource: modelPath, cost: { kvBytesPerElement: ENGINE_KV_BYTES_PER_ELEMENT } });
  // at most one stage, router, expert and gateway process per host, two ports each
  const ports = await freePorts(2 * (4 * cluster.hosts.length + 1));
  const keysDir = curveKeys(config.runtime, runDir, o.keysDir);
  const laid = computeRuntime({
    cluster,
    // `--warmup-passes` overrides the file's `warmup_passes:` (as the dynamic coordinator's settings do)
    settings: o.warmupPasses !== undefined ? { ...config.runtime, warmupPasses: o.warmupPasses } : config.runtime,
    plan,
    model: { path: resolve(modelPath), config: cfg, ...(parts ? { parts } : {}) },
    runDir,
    gateway: o.gateway,
    gatewayPort: o.gatewayPort,
    curveKeysDir: keysDir,
    timeouts: o.timeouts,
    limits: engineLimits(plan),
    freePort: () => {
      const p = ports.shift();
      if (p === undefined) throw new RuntimeLayoutError("ran out of free ports");
      return p;
    },
  });
  if (parts) hostParts(o.partsDir!, [...new Set(laid.processes.filter((p) => p.local).map((p) => p.host))]); // throws naming a missing part
  const runtime: Runtime = { ...laid, source: resolve(o.clusterFile), launcherPid: process.pid };
  writeRunDir(runtime, plan);
  o.onEvent?.({ kind: "plan", plan, runtime });
  // hosts with ssh: their model files, keys and runtime.json go over ssh before they start
  const ssh = sshHosts(config.runtime, runtime);
  await prepareSshHosts(ssh, runtime, o.onEvent);
  const cluster_ = new RunningCluster(runtime, plan, o, ssh);
  await cluster_.start();
  return cluster_;
}

/**
 * Read a plan.json written by `moe plan --out` and check it belongs to this model and cluster.
 * @throws RuntimeLayoutError naming the file and what does not match
 */
export function readPlanFile(file: string, cfg: ModelConfig, cluster: ClusterSpec): PlanJson {
  let plan: PlanJson;
  try {
    plan = JSON.parse(readFileSync(file, "utf8")) as PlanJson;
  } catch (e) {
    throw new RuntimeLayoutError(`${file}: cannot read the plan: ${(e as Error).message}`, { file, fix: "write one with `moe plan --cluster FILE --out plan.json`" });
  }
  const bad = (what: string): never => {
    throw new RuntimeLayoutError(`${file}: ${what}`, { file, fix: "re-plan for this cluster and model with `moe plan --cluster FILE --model ... --out plan.json`" });
  };
  if (typeof plan !== "object" || plan === null || !Array.isArray(plan.stages) || !Array.isArray(plan.experts) || !Array.isArray(plan.routers)) bad("not a plan.json (stages, experts and routers are required)");
  if (plan.model?.layers !== cfg.nLayers || plan.model?.experts !== cfg.nExperts) bad(`planned for ${plan.model?.layers} layers × ${plan.model?.experts} experts, the model has ${cfg.nLayers} × ${cfg.nExperts}`);
  const names = new Set(cluster.hosts.map((h) => h.name));
  for (const h of [...plan.stages.map((x) => x.host), ...plan.experts.flatMap((x) => x.hosts), ...plan.routers.map((r) => r.host)])
    if (!names.has(h)) bad(`host '${h}' is not in ${cluster.source}`);
  return plan;
}

/** A started cluster: its runtime, children and the way to stop it. */
export class RunningCluster {
  private readonly children = new Map<string, NodeChild>();
  private readonly monitor: ClusterMonitor;
  private stopping: Promise<ClusterExit> | undefined;
  private resolveExit!: (e: ClusterExit) => void;
  /** Resolves once the cluster has stopped (by {@link stop} or because a child died). */
  readonly exited: Promise<ClusterExit>;
  private readonly onProcessExit = (): void => {
    for (const c of this.children.values()) c.kill("SIGKILL");
  };
  private endpoints = new Map<string, string>();
  /** Restart times (ms) per process, for the restart budget. */
  private readonly restarts = new Map<string, number[]>();

  constructor(
    private runtime_: Runtime,
    readonly plan: PlanJson,
    private readonly o: LaunchOptions,
    /** Hosts whose processes run over ssh. */
    private readonly ssh: ReadonlyMap<string, SshHost> = new Map(),
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
    const keys = runtime_.curve ? loadClusterKeys(runtime_.curve.keysDir) : undefined;
    this.monitor = new ClusterMonitor(runtime_, {
      curve: keys ? clientCurve(keys) : undefined,
      intervalMs: o.loadIntervalMs ?? 5000,
      onPoll: () => this.writeLoad(),
      logger: o.logger,
    });
  }

  /** The runtime layout (with the gateway's real URL once ready). */
  get runtime(): Runtime {
    return this.runtime_;
  }

  /** The gateway's base URL, when it runs here. */
  get gatewayUrl(): string | undefined {
    return this.runtime_.gateway ? this.endpoints.get(this.runtime_.gateway) : undefined;
  }

  /** pid of a local process. */
  pid(name: string): number {
    const c = this.children.get(name);
    if (!c) throw new RuntimeLayoutError(`no local process named '${name}'; local processes: ${[...this.children.keys()].join(", ")}`, { process: name });
    return c.pid;
  }

  /** Every local child with its state. */
  states(): ChildState[] {
    return [...this.children.values()].map((c) => ({ name: c.name, pid: c.pid, alive: c.alive, ...(c.exit ? { exit: c.exit } : {}) }));
  }

  /** Tokens routed per (layer, expert) as last polled. */
  expertLoad(): number[][] {
    return this.monitor.expertLoad();
  }

  /** @internal spawn, wait for readiness, start supervising. */
  /** Spawn the `moe node` child of local process `p` and watch its exit. */
  private spawn(p: RuntimeProcess): NodeChild {
    const runtimeFile = join(this.runtime_.runDir, RUN_FILES.runtime);
    // the gateway process reads its API key from the environment, never from a file or its command line
    let env = this.o.apiKey !== undefined ? { ...process.env, MOE_API_KEY: this.o.apiKey } : process.env;
    // large weights load with transparent huge pages (a third of the load time at Grok-1 width)
    if (weightFileBytes(this.runtime_.model.path) >= HUGE_PAGE_MIN_WEIGHT_BYTES) env = hugePageEnv(env);
    const remote = this.ssh.get(p.host);
    const { cmd, args } = remote ? sshNodeCommand(remote, p.name) : { cmd: moeCommand(), args: ["node", "--runtime", runtimeFile, "--process", p.name, "--parent-pid", String(process.pid)] };
    const child = new NodeChild(p.name, cmd, args, logFile(this.runtime_.runDir, p.name), env, (passes) => this.o.onEvent?.({ kind: "warming", process: p, passes }));
    this.children.set(p.name, child);
    void child.exited.then((e) => this.childExited(p, e, child));
    return child;
  }

  async start(): Promise<void> {
    const o = this.o;
    const runtimeFile = join(this.runtime_.runDir, RUN_FILES.runtime);
    process.once("exit", this.onProcessExit);
    for (const p of this.runtime_.processes.filter((q) => q.local || this.ssh.has(q.host))) {
      const child = this.spawn(p);
      o.onEvent?.({ kind: "starting", process: p, pid: child.pid, log: child.logPath });
    }
    const t0 = performance.now();
    const timeoutMs = o.readyTimeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const waiting = this.runtime_.processes.filter((p) => !this.endpoints.has(p.name));
        const p = waiting[0];
        const c = p && this.children.get(p.name);
        reject(
          new StartupError(
            `${waiting.map((q) => q.name).join(", ")} did not become ready within ${timeoutMs / 1000} s${c ? `; log ${c.logPath}` : p ? ` (started elsewhere: run \`moe node --runtime runtime.json --process ${p.name}\` on ${p.host})` : ""}`,
            c?.logTail() ?? "",
            { process: p?.name, host: p?.host },
          ),
        );
      }, timeoutMs);
      onAbort = () => reject(new StartupError("start-up interrupted", "", {}));
      o.signal?.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([failed, Promise.all(this.runtime_.processes.map((p) => this.waitReady(p, t0)))]);
    } catch (e) {
      await this.stop("start-up failed");
      throw e;
    } finally {
      clearTimeout(timer);
      if (onAbort) o.signal?.removeEventListener("abort", onAbort);
    }
    if (this.runtime_.gateway && this.endpoints.has(this.runtime_.gateway)) {
      const url = this.endpoints.get(this.runtime_.gateway)!;
      this.runtime_ = { ...this.runtime_, processes: this.runtime_.processes.map((p) => (p.role === "gateway" ? { ...p, endpoint: url } : p)) };
      writeJsonAtomic(runtimeFile, this.runtime_);
    }
    this.monitor.start();
  }

  private async waitReady(p: RuntimeProcess, t0: number): Promise<void> {
    const c = this.children.get(p.name);
    let warmup: ReadyLine["warmup"];
    if (c) {
      try {
        const line = await c.ready;
        this.endpoints.set(p.name, line.endpoint);
        warmup = line.warmup;
      } catch (e) {
        await new Promise((r) => setTimeout(r, 100)); // let the log reach the file
        throw new StartupError(`process ${p.name} (${p.role} on ${p.host}) ${(e as Error).message}; log ${c.logPath}`, c.logTail(), { process: p.name, host: p.host });
      }
    } else {
      this.o.onEvent?.({ kind: "waiting-remote", process: p });
      for (;;) {
        if (this.stopping) throw new StartupError("stopped", "", { process: p.name });
        const r = await this.monitor.poll();
        if (r.find((s) => s.process.name === p.name)?.up) break;
        await new Promise((res) => setTimeout(res, 500));
      }
      this.endpoints.set(p.name, p.endpoint);
    }
    this.o.onEvent?.({ kind: "ready", process: p, endpoint: this.endpoints.get(p.name)!, seconds: (performance.now() - t0) / 1000, ...(warmup ? { warmup } : {}) });
  }

  private childExited(p: RuntimeProcess, e: ChildExit, child: NodeChild): void {
    if (this.children.get(p.name) !== child) return; // an older incarnation
    const expected = this.stopping !== undefined;
    this.o.onEvent?.({ kind: "exit", process: p, exit: e, expected });
    if (expected || !this.endpoints.has(p.name)) return; // start-up failures are reported by start()
    this.o.logger?.warn({ process: p.name, exit: describeExit(e) }, "a cluster process exited");
    if (this.restartAllowed(p.name)) {
      void this.restartChild(p, e);
      return;
    }
    if (!this.o.keepGoing) void this.stop(`${p.name} exited (${describeExit(e)})`, { reason: "child-exit", process: p.name, exit: e });
  }

  /** Whether the restart budget of `name` allows one more restart now (and records it). */
  private restartAllowed(name: string): boolean {
    if (!this.o.restart) return false;
    const max = this.o.restart.maxRestarts ?? 5;
    const window = this.o.restart.windowMs ?? 60_000;
    const now = Date.now();
    const times = (this.restarts.get(name) ?? []).filter((t) => now - t < window);
    if (times.length >= max) return false;
    times.push(now);
    this.restarts.set(name, times);
    return true;
  }

  /** Start `p` again; when it cannot come up, fall back to the stop / keep-going policy. */
  private async restartChild(p: RuntimeProcess, e: ChildExit): Promise<void> {
    const child = this.spawn(p);
    const attempt = this.restarts.get(p.name)?.length ?? 1;
    this.o.onEvent?.({ kind: "restarting", process: p, pid: child.pid, attempt });
    const t0 = performance.now();
    try {
      const line = await child.ready;
      if (this.stopping) return;
      this.endpoints.set(p.name, line.endpoint);
      this.o.onEvent?.({ kind: "ready", process: p, endpoint: line.endpoint, seconds: (performance.now() - t0) / 1000 });
    } catch (err) {
      if (this.stopping) return;
      this.o.onEvent?.({ kind: "restart-failed", process: p, error: (err as Error).message });
      if (!this.o.keepGoing) void this.stop(`${p.name} exited (${describeExit(e)}) and could not be restarted`, { reason: "child-exit", process: p.name, exit: e });
    }
  }

  private writeLoad(): void {
    const counts = this.monitor.expertLoad();
    try {
      writeJsonAtomic(join(this.runtime_.runDir, RUN_FILES.expertLoad), { cluster: this.runtime_.cluster, model: this.runtime_.model.name, updatedAt: new Date().toISOString(), counts });
    } catch (e) {
      this.o.logger?.warn({ err: (e as Error).message }, "cannot write expert-load.json");
    }
  }

  /**
   * Stop every local process: the gateway first, then the rest with SIGTERM,
   * SIGKILL after the grace period; resolves once all have exited. Idempotent.
   */
  stop(why = "stopped", result: ClusterExit = { reason: "stopped" }): Promise<ClusterExit> {
    this.stopping ??= (async () => {
      this.o.onEvent?.({ kind: "stopping", reason: why });
      await this.monitor.poll().catch(() => undefined);
      this.writeLoad();
      await this.monitor.close();
      const grace = this.o.graceMs ?? 5000;
      const gw = [...this.children.values()].filter((c) => this.runtime_.processes.find((p) => p.name === c.name)?.role === "gateway");
      const rest = [...this.children.values()].filter((c) => !gw.includes(c));
      for (const group of [gw, rest]) {
        // processes on ssh hosts get their SIGTERM there; the ssh session then ends by itself
        const byHost = new Map<string, string[]>();
        for (const c of group) {
          const host = this.runtime_.processes.find((p) => p.name === c.name)?.host;
          if (host !== undefined && this.ssh.has(host) && c.alive) byHost.set(host, [...(byHost.get(host) ?? []), c.name]);
        }
        await Promise.all([...byHost].map(([host, names]) => stopOnSshHost(host, this.ssh.get(host)!, names)));
        const viaSsh = new Set([...byHost.values()].flat());
        for (const c of group) if (!viaSsh.has(c.name)) c.kill("SIGTERM");
        const all = Promise.all(group.map((c) => c.exited));
        const timer = setTimeout(() => group.forEach((c) => c.kill("SIGKILL")), grace);
        await all;
        clearTimeout(timer);
      }
      process.off("exit", this.onProcessExit);
      try {
        // no launcher owns it any more: a later `moe up` may start over
        const { launcherPid: _, ...rest } = this.runtime_;
        this.runtime_ = { ...rest, stoppedAt: new Date().toISOString() };
        writeJsonAtomic(join(this.runtime_.runDir, RUN_FILES.runtime), this.runtime_);
      } catch (e) {
        this.o.logger?.warn({ err: (e as Error).message }, "cannot update runtime.json");
      }
      this.resolveExit(result);
      return result;
    })();
    return this.stopping;
  }
}
