/**
 * The coordinator of a dynamic cluster (`moe up CLUSTER.yaml` with `nats:`):
 * waits until enough hosts joined, plans over them (the cluster file's
 * `placement:` when every host it names joined, else the planner), lays the
 * plan out as processes (runtime.ts), slices each host's part of the model
 * from it (host-parts.ts: on a re-plan, only what a host newly needs) and
 * publishes it; every host prepares its part (fetching its part files from
 * this process, which serves them) and the
 * coordinator, once all are prepared, activates it; then the gateway serves,
 * in this process. Heartbeats missing for `heartbeatTimeoutMs` (or a host
 * saying bye, or failing its part) make it re-plan over the survivors:
 * replicas have already taken over in the routers; experts left without a
 * host are placed again and loaded (planner/replan.ts), or, when a stage
 * host was lost, the planner places everything afresh; routers switch when
 * the new plan is activated and the gateway follows the stages.
 */
import { join, resolve } from "node:path";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { connect, type Msg, type NatsConnection, type Subscription } from "nats";
import type { Logger } from "pino";
import type { RuntimeConfig } from "../config/index.js";
import type { ModelConfig } from "../model/index.js";
import { formatBytes, formatRate, type ClusterSpec, type PlanJson } from "../planner/index.js";
import { AlreadyRunningError, ControlError, PlanNotServableError } from "./errors.js";
import { RUN_FILES, writeJsonAtomic, writeRunDir } from "./files.js";
import { memberHost, memberStatus, type Member } from "./members.js";
import { byeSchema, decodeJson, encodeJson, heartbeatSchema, subjects, type ClusterStatusMessage, type PlanMessage, type Subjects } from "./nats-wire.js";
import { startNode, type RunningNode } from "./node.js";
import { freePorts } from "./ports.js";
import { bindHost, clusterName, computeRuntime, type Runtime, type RuntimeProcess } from "./runtime.js";
import { WeightServer } from "./weight-transfer.js";
import { ChecksumCache } from "./weights.js";
import { HostParts } from "./host-parts.js";
import { planOverLiveHosts } from "./replan.js";

/** Options of {@link Coordinator.start}. */
export interface CoordinatorOptions {
  /** The planner's view of the cluster file (its listed hosts, placement, dtype). */
  readonly cluster: ClusterSpec;
  /** The cluster file's runtime slice (config/): `nats:`, `min_hosts:`, CURVE, wire dtype, listed hosts' threads. */
  readonly settings: RuntimeConfig;
  readonly modelPath: string;
  readonly config: ModelConfig;
  /** runtime.json, plan.json and checksums go here. */
  readonly runDir: string;
  /** Hosts to wait for before the first plan (default: the file's `min_hosts`, else its listed hosts, else 1). */
  readonly minHosts?: number;
  /** A host whose heartbeats stop for this long is lost, ms. Default 5000. */
  readonly heartbeatTimeoutMs?: number;
  /** Longest time without any progress (a state change or downloaded bytes) while hosts prepare a plan, ms. Default 120000. */
  readonly stallTimeoutMs?: number;
  /** Run the HTTP gateway here (default true). */
  readonly gateway?: boolean;
  /** Gateway address and port (default 127.0.0.1:8000; port 0: any free port). */
  readonly gatewayHost?: string;
  readonly gatewayPort?: number;
  /** Control port of the gateway (default: a free one). */
  readonly gatewayControlPort?: number;
  /** CURVE keys directory when the cluster has `curve: true` (every host needs a copy: `moe node --keys`). */
  readonly keysDir?: string;
  readonly timeouts?: { readonly stepMs?: number; readonly dispatchMs?: number; readonly sequenceIdleMs?: number };
  readonly prefix?: string;
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: CoordinatorEvent) => void;
  readonly logger: Logger;
}

/** What the coordinator reports while it works. */
export type CoordinatorEvent =
  | { readonly kind: "waiting"; readonly joined: readonly string[]; readonly minHosts: number }
  | { readonly kind: "joined"; readonly host: string; readonly address: string; readonly detail: string }
  | { readonly kind: "rejected"; readonly host: string; readonly error: string }
  | { readonly kind: "plan"; readonly version: number; readonly reason: string; readonly plan: PlanJson; readonly runtime: Runtime }
  | { readonly kind: "host"; readonly host: string; readonly state: string; readonly version: number; readonly progress?: { bytes: number; total: number; bytesPerSecond: number }; readonly error?: string }
  | { readonly kind: "serving"; readonly version: number; readonly gatewayUrl: string | null; readonly seconds: number }
  | { readonly kind: "lost"; readonly host: string; readonly reason: string }
  | { readonly kind: "recovered"; readonly version: number; readonly reason: string; readonly seconds: number; readonly moved: number; readonly fresh: boolean }
  | { readonly kind: "error"; readonly message: string }
  | { readonly kind: "stopping"; readonly reason: string };

/** One plan as published. */
interface Published {
  readonly message: PlanMessage;
  readonly plan: PlanJson;
  active: boolean;
}

export class Coordinator {
  private readonly s: Subjects;
  private readonly members = new Map<string, Member>();
  private readonly subs: Subscription[] = [];
  private readonly epoch = Date.now();
  private version = 0;
  private current: Published | undefined;
  private phase: "waiting" | "loading" | "serving" | "replanning" | "stopped" = "waiting";
  private gatewayNode: RunningNode | undefined;
  private gatewayProcess: RuntimeProcess | undefined;
  private readonly replans: ClusterStatusMessage["replans"] = [];
  private timer: NodeJS.Timeout | undefined;
  private work: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  private readonly changed = new Set<() => void>();
  /** Lost hosts waiting for a re-plan. */
  private readonly pendingLoss = new Set<string>();
  private parts!: HostParts;
  private weights!: WeightServer;
  /** While this process's own NATS connection is down (and a grace period after), silence proves nothing. */
  private natsDown = false;
  private natsBackAt = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly o: CoordinatorOptions,
  ) {
    this.s = subjects(o.prefix);
  }

  /**
   * Connect, serve weights and status, and run the cluster: resolves once the gateway serves (or, without a
   * gateway, every host is ready). @throws ControlError when NATS is unreachable or another coordinator runs there
   */
  static async start(o: CoordinatorOptions): Promise<Coordinator> {
    const url = o.settings.nats!;
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: url.split(","), name: "moe-coordinator", maxReconnectAttempts: -1, reconnectTimeWait: 500 });
    } catch (e) {
      throw new ControlError("NATS_CONNECT", `${o.cluster.source}: nats: cannot reach ${url}: ${(e as Error).message}`, { file: o.cluster.source, field: "nats", fix: "start nats-server there (e.g. `nats-server -a 0.0.0.0 -p 4222`)", cause: e });
    }
    const c = new Coordinator(nc, o);
    try {
      await c.checkAlone();
      await c.serve();
      await c.run();
    } catch (e) {
      await c.stop(o.signal?.aborted ? "interrupted" : `start-up failed: ${(e as Error).message}`);
      throw e;
    }
    return c;
  }

  /** The gateway's URL, when it runs here. */
  get gatewayUrl(): string | null {
    return this.gatewayNode?.endpoint ?? null;
  }

  /** The runtime in force. */
  get runtime(): Runtime | undefined {
    return this.current?.message.runtime;
  }

  /** The plan in force. */
  get plan(): PlanJson | undefined {
    return this.current?.plan;
  }

  private get minHosts(): number {
    return this.o.minHosts ?? this.o.settings.minHosts ?? Math.max(1, this.o.cluster.hosts.length);
  }

  private async checkAlone(): Promise<void> {
    try {
      const r = await this.nc.request(this.s.status, encodeJson({}), { timeout: 700 });
      const other = JSON.parse(new TextDecoder().decode(r.data)) as { coordinator?: { pid: number; host: string } };
      throw new AlreadyRunningError(`another coordinator (pid ${other.coordinator?.pid} on ${other.coordinator?.host}) already runs a cluster on ${this.o.settings.nats}`, {
        fix: "stop it first (`moe down` / Ctrl-C), or give this cluster its own NATS server",
      });
    } catch (e) {
      if (e instanceof AlreadyRunningError) throw e;
      // no responders / timeout: alone
    }
  }

  /** Subscribe to heartbeats, byes, plan and status requests, serve weight chunks (each host's parts, sliced per plan). */
  private async serve(): Promise<void> {
    this.weights = new WeightServer(this.nc, this.s.weights, this.o.logger);
    this.parts = new HostParts({
      modelPath: resolve(this.o.modelPath),
      config: this.o.config,
      dir: join(this.o.runDir, "parts"),
      cache: new ChecksumCache(join(this.o.runDir, "checksums.json")),
      server: this.weights,
      logger: this.o.logger,
    });
    const on = (subject: string, f: (m: Msg) => void): void => {
      this.subs.push(this.nc.subscribe(subject, { callback: (err, m) => !err && f(m) }));
    };
    on(this.s.heartbeat, (m) => this.onHeartbeat(m));
    on(this.s.bye, (m) => {
      try {
        const b = decodeJson(byeSchema, m.data, this.s.bye);
        const mem = this.members.get(b.name);
        if (mem && mem.hb.pid === b.pid) this.markLost(mem, `left: ${b.reason}`);
      } catch (e) {
        this.o.logger.warn({ err: (e as Error).message }, "bad bye");
      }
    });
    on(this.s.planGet, (m) => m.respond(encodeJson({ plan: this.current?.message ?? null, active: this.current?.active ?? false })));
    on(this.s.status, (m) => m.respond(encodeJson(this.status())));
    on(this.s.rebalance, (m) => this.enqueue(() => this.rebalance(m)));
    await this.nc.flush();
    this.timer = setInterval(() => this.tick(), 250);
    void (async () => {
      for await (const st of this.nc.status()) {
        if (st.type === "disconnect") {
          this.natsDown = true;
          this.o.logger.warn({ server: st.data }, "lost the NATS connection; not judging hosts until it is back");
        } else if (st.type === "reconnect") {
          this.natsDown = false;
          this.natsBackAt = Date.now();
          this.o.logger.info({ server: st.data }, "NATS connection back");
        }
      }
    })();
  }

  private onHeartbeat(m: Msg): void {
    let hb;
    try {
      hb = decodeJson(heartbeatSchema, m.data, this.s.heartbeat);
    } catch (e) {
      this.o.logger.warn({ err: (e as Error).message }, "bad heartbeat");
      return;
    }
    const now = Date.now();
    let mem = this.members.get(hb.name);
    // a heartbeat that was under way when the host said goodbye (heartbeats travel on a connection of their own)
    if (mem?.lost && mem.lostReason?.startsWith("left") && mem.hb.pid === hb.pid && mem.hb.startedAt === hb.startedAt) return;
    // a new incarnation (restarted, or back after it was declared lost) joins afresh
    if (!mem || mem.hb.pid !== hb.pid || mem.hb.startedAt !== hb.startedAt || mem.lost) {
      mem = { hb, lastSeen: now, joinedAt: now, lost: false };
      try {
        ({ spec: mem.spec, runtime: mem.runtime } = memberHost(hb, this.o.cluster, this.o.settings));
      } catch (e) {
        mem.rejected = (e as Error).message;
      }
      this.members.set(hb.name, mem);
      // back after it was dropped from the plan but still running its old part: the plan in force tells it to stop
      if (this.current && hb.processes.length && !this.assigned(this.current).has(hb.name)) this.nc.publish(this.s.plan, encodeJson(this.current.message));
      if (mem.rejected) this.o.onEvent?.({ kind: "rejected", host: hb.name, error: mem.rejected });
      else this.o.onEvent?.({ kind: "joined", host: hb.name, address: hb.address, detail: describeHost(hb) });
    }
    const before = mem.hb;
    mem.hb = hb;
    mem.lastSeen = now;
    if (before.state !== hb.state || before.version !== hb.version || before.progress?.bytes !== hb.progress?.bytes || before.error !== hb.error) {
      if (hb.epoch === this.epoch && hb.version > 0)
        this.o.onEvent?.({ kind: "host", host: hb.name, state: hb.state, version: hb.version, ...(hb.progress ? { progress: hb.progress } : {}), ...(hb.error ? { error: hb.error } : {}) });
      for (const wake of [...this.changed]) wake();
    }
  }

  /** Every 250 ms: find hosts gone silent (unless the coordinator itself was cut off from NATS); hand losses to the re-plan. */
  private tick(): void {
    const now = Date.now();
    const timeout = this.o.heartbeatTimeoutMs ?? 5000;
    if (this.natsDown || now - this.natsBackAt < timeout) return; // the coordinator was cut off, not (necessarily) the hosts
    for (const m of this.members.values()) if (!m.lost && now - m.lastSeen > timeout) this.markLost(m, `no heartbeat for ${((now - m.lastSeen) / 1000).toFixed(1)} s`);
  }

  private markLost(m: Member, reason: string): void {
    if (m.lost) return;
    m.lost = true;
    m.lostReason = reason;
    this.o.onEvent?.({ kind: "lost", host: m.hb.name, reason });
    this.o.logger.warn({ host: m.hb.name, reason }, "host lost");
    for (const wake of [...this.changed]) wake();
    if (this.assigned(this.current).has(m.hb.name) && this.phase === "serving") {
      this.pendingLoss.add(m.hb.name);
      this.enqueue(() => this.recover());
    }
  }

  private enqueue(f: () => Promise<void>): void {
    this.work = this.work.then(f).catch((e: unknown) => {
      this.o.logger.error({ err: (e as Error).message }, "re-plan failed");
      this.o.onEvent?.({ kind: "error", message: (e as Error).message });
    });
  }

  /** Hosts with processes in a plan (the gateway's coordinator host aside). */
  private assigned(p: Published | undefined): Set<string> {
    return new Set((p?.message.runtime.processes ?? []).filter((q) => !q.local).map((q) => q.host));
  }

  private alive(): Member[] {
    return [...this.members.values()].filter((m) => !m.lost && m.spec).sort((a, b) => (a.hb.name < b.hb.name ? -1 : 1));
  }

  /** Resolve on the next heartbeat change or loss (or after `ms`). */
  private nextChange(ms: number): Promise<void> {
    return new Promise((r) => {
      const wake = (): void => {
        clearTimeout(t);
        this.changed.delete(wake);
        r();
      };
      const t = setTimeout(wake, ms);
      this.changed.add(wake);
    });
  }

  private checkAbort(): void {
    if (this.o.signal?.aborted || this.stopping) throw new ControlError("STOPPED", "stopped");
  }

  /** Wait for hosts, plan, publish, prepare, activate, serve. */
  private async run(): Promise<void> {
    const t0 = performance.now();
    let last = "";
    for (;;) {
      this.checkAbort();
      const joined = this.alive().map((m) => m.hb.name);
      const key = joined.join(",");
      if (key !== last) this.o.onEvent?.({ kind: "waiting", joined, minHosts: this.minHosts });
      last = key;
      if (joined.length >= this.minHosts) break;
      await this.nextChange(1000);
    }
    this.phase = "loading";
    await this.converge("initial", new Set());
    if (this.o.gateway ?? true) await this.startGateway();
    this.phase = "serving";
    this.o.onEvent?.({ kind: "serving", version: this.version, gatewayUrl: this.gatewayUrl, seconds: (performance.now() - t0) / 1000 });
    // hosts lost while loading are re-planned now
    if (this.alive().length < this.assigned(this.current).size) this.enqueue(() => this.recover());
  }

  /**
   * Plan over the live hosts, publish, and drive it to `ready` everywhere; when a host is lost or fails
   * meanwhile, plan again without it. @throws PlanNotServableError when the survivors cannot hold the model
   */
  private async converge(reason: string, lost: ReadonlySet<string>, fresh = false): Promise<{ moved: number; fresh: boolean }> {
    let outcome = { moved: 0, fresh: true };
    let why = reason;
    for (let attempt = 0; attempt < 8; attempt++) {
      this.checkAbort();
      const prev = this.current;
      const planned = this.planOver(this.alive(), fresh ? undefined : prev, lost);
      outcome = { moved: planned.moved, fresh: planned.fresh };
      const pub = await this.publish(planned.plan, planned.runtime, why);
      const failed = await this.await(pub, "prepared");
      if (failed.length === 0) {
        pub.active = true;
        this.nc.publish(this.s.activate, encodeJson({ v: 1, epoch: pub.message.epoch, version: pub.message.version }));
        const late = await this.await(pub, "ready");
        if (late.length === 0) {
          await this.gatewayNode?.activate(pub.message.runtime);
          return outcome;
        }
        why = `${late.join(", ")} lost while switching`;
      } else why = `${failed.join(", ")} lost or failed while preparing`;
      for (const h of failed) {
        const m = this.members.get(h);
        if (m && !m.lost) this.markLost(m, m.hb.error ? `failed: ${m.hb.error}` : "failed to prepare");
      }
      lost = new Set([...lost, ...failed]);
    }
    throw new PlanNotServableError(`gave up after 8 plans: hosts keep failing (${[...lost].join(", ")})`);
  }

  /** The plan and runtime over `alive` hosts: survivors keep their parts when a current plan exists. */
  private planOver(alive: Member[], prev: Published | undefined, lost: ReadonlySet<string>): { plan: PlanJson; runtime: Runtime; moved: number; fresh: boolean } {
    const { plan, cluster, moved, fresh } = planOverLiveHosts({
      config: this.o.config,
      cluster: this.o.cluster,
      modelPath: this.o.modelPath,
      hosts: alive.map((m) => m.spec!),
      ...(prev ? { prev: { plan: prev.plan, hosts: this.assigned(prev) } } : {}),
      lost,
      logger: this.o.logger,
    });
    return { plan, runtime: this.layout(cluster, alive, plan), moved, fresh };
  }

  /** plan → runtime: node processes at the ports each host offered, the gateway here. */
  private layout(cluster: ClusterSpec, alive: readonly Member[], plan: PlanJson): Runtime {
    const laid = computeRuntime({
      cluster,
      settings: { ...this.o.settings, hosts: alive.map((m) => m.runtime!) },
      plan,
      model: { path: resolve(this.o.modelPath), config: this.o.config },
      runDir: this.o.runDir,
      gateway: false,
      ...(this.o.keysDir ? { curveKeysDir: this.o.keysDir } : {}),
      timeouts: this.o.timeouts,
      limits: plan.limits,
      freePort: () => {
        throw new ControlError("NO_PORTS", "a joined host offered no ports");
      },
      isLocal: () => false,
    });
    const gw = this.gatewayProcess;
    return {
      ...laid,
      cluster: clusterName(this.o.cluster),
      launcherPid: process.pid,
      processes: gw ? [...laid.processes, gw] : laid.processes,
      gateway: gw ? gw.name : null,
      dynamic: { nats: this.o.settings.nats!, epoch: this.epoch, version: this.version + 1 },
    };
  }

  /** Slice each host's part (what it lacks of it), then publish the plan. */
  private async publish(plan: PlanJson, runtime: Runtime, reason: string): Promise<Published> {
    const hosts = [...new Set(runtime.processes.filter((p) => !p.local).map((p) => p.host))];
    const { manifests: weights } = await this.parts.manifests(plan, hosts, this.version + 1);
    this.version++;
    const message: PlanMessage = { v: 1, epoch: this.epoch, version: this.version, reason, runtime, weights };
    const pub: Published = { message, plan, active: false };
    this.current = pub;
    writeRunDir(runtime, plan);
    this.o.onEvent?.({ kind: "plan", version: this.version, reason, plan, runtime });
    this.nc.publish(this.s.plan, encodeJson(message));
    return pub;
  }

  /**
   * Wait until every host of `pub` reports `state` for it. @returns hosts lost or failed meanwhile (empty: all there)
   * @throws ControlError when nothing moved for the stall timeout
   */
  private async await(pub: Published, state: "prepared" | "ready"): Promise<string[]> {
    const want = [...this.assigned(pub)];
    const { epoch, version } = pub.message;
    const stall = this.o.stallTimeoutMs ?? 120_000;
    let lastMove = Date.now();
    let lastKey = "";
    let lastResend = Date.now();
    for (;;) {
      this.checkAbort();
      const bad: string[] = [];
      let pending = 0;
      const keyParts: string[] = [];
      for (const h of want) {
        const m = this.members.get(h);
        if (!m || m.lost) {
          bad.push(h);
          continue;
        }
        const hb = m.hb;
        keyParts.push(`${h}:${hb.state}:${hb.version}:${hb.progress?.bytes ?? 0}`);
        const mine = hb.epoch === epoch && hb.version === version;
        if (mine && hb.state === "failed") bad.push(h);
        else if (!(mine && (hb.state === state || (state === "prepared" && hb.state === "ready")))) pending++;
      }
      if (bad.length) return bad;
      if (pending === 0) return [];
      const key = keyParts.join(" ");
      if (key !== lastKey) (lastKey = key), (lastMove = Date.now());
      if (Date.now() - lastMove > stall)
        throw new ControlError("PLAN_STALLED", `plan ${version}: no host made progress towards '${state}' for ${stall / 1000} s (${keyParts.join(", ")})`, { fix: "see the hosts' logs (`moe node` stderr)" });
      // a host that missed the message (NATS is at most once) gets it again
      if (Date.now() - lastResend > 3000) {
        lastResend = Date.now();
        this.nc.publish(this.s.plan, encodeJson(pub.message));
        if (pub.active) this.nc.publish(this.s.activate, encodeJson({ v: 1, epoch, version }));
      }
      await this.nextChange(1000);
    }
  }

  /** The gateway, in this process, on the runtime in force. */
  private async startGateway(): Promise<void> {
    const rt = this.current!.message.runtime;
    const host = this.o.gatewayHost ?? "127.0.0.1";
    const port = this.o.gatewayPort ?? 8000;
    const cport = this.o.gatewayControlPort ?? (await freePorts(1, bindHost(host)))[0]!;
    const bh = bindHost(host);
    const h6 = isIP(host) === 6 ? `[${host}]` : host;
    const gw: RuntimeProcess = {
      name: "gateway",
      host: "coordinator",
      role: "gateway",
      endpoint: `http://${h6}:${port}`,
      bind: `${bh}:${port}`,
      control: `tcp://${h6}:${cport}`,
      controlBind: `tcp://${bh}:${cport}`,
      threads: 1,
      executionProvider: "cpu",
      local: true,
    };
    const withGw: Runtime = { ...rt, runDir: this.o.runDir, processes: [...rt.processes, gw], gateway: gw.name };
    this.gatewayNode = await startNode({ runtime: withGw, process: gw.name, logger: this.o.logger });
    // port 0 took a free port: later plans carry the real one
    const real = new URL(this.gatewayNode.endpoint);
    this.gatewayProcess = { ...gw, endpoint: this.gatewayNode.endpoint, bind: `${bh}:${real.port}` };
    const fixed: Runtime = { ...rt, processes: [...rt.processes, this.gatewayProcess], gateway: gw.name };
    this.current = { ...this.current!, message: { ...this.current!.message, runtime: fixed } };
    writeJsonAtomic(join(this.o.runDir, RUN_FILES.runtime), fixed);
  }

  /** Re-plan after losses, measured from the first loss to serving again. */
  private async recover(): Promise<void> {
    if (this.pendingLoss.size === 0 || this.phase !== "serving" || this.stopping) return;
    const t0 = performance.now();
    const lost = new Set(this.pendingLoss);
    this.pendingLoss.clear();
    this.phase = "replanning";
    const reason = `lost ${[...lost].join(", ")}`;
    const entry = { version: this.version + 1, reason, at: Date.now(), seconds: null as number | null };
    this.replans.push(entry);
    try {
      const r = await this.converge(reason, lost);
      entry.seconds = (performance.now() - t0) / 1000;
      entry.version = this.version;
      this.o.onEvent?.({ kind: "recovered", version: this.version, reason, seconds: entry.seconds, moved: r.moved, fresh: r.fresh });
    } finally {
      if (this.phase === "replanning") this.phase = "serving";
    }
    // a host of the new plan lost while it was being put in force
    for (const h of this.assigned(this.current)) if (this.members.get(h)?.lost) this.pendingLoss.add(h);
    if (this.pendingLoss.size) this.enqueue(() => this.recover());
  }

  /**
   * `moe cluster rebalance`: plan afresh over every live host (standby ones included) and put it in force;
   * answers `{version, seconds}` or `{error}`.
   */
  private async rebalance(m: Msg): Promise<void> {
    if (this.phase !== "serving") {
      m.respond(encodeJson({ error: `the cluster is ${this.phase}; try again once it serves` }));
      return;
    }
    const t0 = performance.now();
    this.phase = "replanning";
    const entry = { version: this.version + 1, reason: "rebalance", at: Date.now(), seconds: null as number | null };
    this.replans.push(entry);
    try {
      await this.converge("rebalance", new Set(), true);
      entry.seconds = (performance.now() - t0) / 1000;
      entry.version = this.version;
      this.o.onEvent?.({ kind: "recovered", version: this.version, reason: "rebalance", seconds: entry.seconds, moved: 0, fresh: true });
      m.respond(encodeJson({ version: this.version, seconds: entry.seconds, hosts: [...this.assigned(this.current)] }));
    } catch (e) {
      m.respond(encodeJson({ error: (e as Error).message }));
      throw e;
    } finally {
      if (this.phase === "replanning") this.phase = "serving";
    }
  }

  /** The cluster as `moe status --nats` shows it. */
  status(): ClusterStatusMessage {
    const now = Date.now();
    const assigned = this.assigned(this.current);
    return {
      v: 1,
      cluster: clusterName(this.o.cluster),
      coordinator: { pid: process.pid, host: hostname(), startedAt: this.epoch },
      phase: this.phase,
      epoch: this.epoch,
      version: this.version,
      gateway: this.gatewayUrl,
      minHosts: this.minHosts,
      members: [...this.members.values()].sort((a, b) => (a.hb.name < b.hb.name ? -1 : 1)).map((m) => memberStatus(m, assigned.has(m.hb.name) && !m.lost, now)),
      replans: this.replans.slice(-20),
    };
  }

  /**
   * Stop: the gateway closes, every host is told to drop its processes (it stays joined, idle), NATS closes.
   * Idempotent.
   */
  stop(reason = "stopped"): Promise<void> {
    this.stopping ??= (async () => {
      this.o.onEvent?.({ kind: "stopping", reason });
      clearInterval(this.timer);
      for (const wake of [...this.changed]) wake();
      await this.work.catch(() => undefined);
      await this.gatewayNode?.close().catch((e: unknown) => this.o.logger.warn({ err: (e as Error).message }, "gateway close failed"));
      this.phase = "stopped";
      const rt = this.current?.message.runtime;
      if (rt && !this.nc.isClosed()) {
        this.version++;
        const stop: PlanMessage = { v: 1, epoch: this.epoch, version: this.version, reason: "stop", runtime: { ...rt, processes: rt.processes.filter((p) => p.local) }, weights: {} };
        this.nc.publish(this.s.plan, encodeJson(stop));
      }
      for (const s of this.subs) s.unsubscribe();
      await this.weights?.close();
      if (!this.nc.isClosed()) await this.nc.drain().catch(() => undefined);
      if (rt) {
        const { launcherPid: _, ...rest } = rt;
        try {
          writeJsonAtomic(join(this.o.runDir, RUN_FILES.runtime), { ...rest, stoppedAt: new Date().toISOString() });
        } catch {
          // run dir gone
        }
      }
    })();
    return this.stopping;
  }
}

function describeHost(hb: { capabilities: Record<string, unknown>; address: string }): string {
  const c = hb.capabilities;
  const q = (v: unknown, f: (n: number) => string) => (typeof v === "number" ? f(v) : String(v ?? "?"));
  const what = c.device ? String(c.device) : `${q(c.memory, formatBytes)} memory, ${q(c.memory_bandwidth, formatRate)}`;
  return `${what}, ${c.threads} threads, at ${hb.address}`;
}
