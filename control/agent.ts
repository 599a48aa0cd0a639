/**
 * `moe node --join nats://…`: a host that joins a dynamic cluster. It
 * announces its capabilities and a range of free ports in a heartbeat, holds
 * no role until the coordinator's plan gives it one, then — phase 1,
 * "prepare" — fetches the files its part needs that its `--dir` lacks
 * (weight-transfer.ts), starts its processes in this process (node.ts) or
 * loads into the running ones what the new plan adds, and reports
 * `prepared`; phase 2, "activate", switches routers to the new placement and
 * reports `ready`. A plan without processes for it (or the coordinator
 * stopping) closes its processes: it is idle again, and waits for the next.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { connect, type NatsConnection, type Subscription } from "nats";
import type { Logger } from "pino";
import { ControlError } from "./errors.js";
import { writeJsonAtomic } from "./files.js";
import { activateSchema, byeSchema, decodeJson, encodeJson, planMessageSchema, planStateSchema, subjects, type Heartbeat, type NodeState, type PlanMessage, type Subjects } from "./nats-wire.js";
import { canUpdateInPlace, startNode, type RunningNode } from "./node.js";
import { HeartbeatSender } from "./heartbeat.js";
import { freePortRange } from "./ports.js";
import type { Runtime } from "./runtime.js";
import { fetchFiles, type FetchProgress } from "./weight-transfer.js";
import { ChecksumCache, manifestRootPath, missingFiles, pruneParts } from "./weights.js";

/** Options of {@link NodeAgent.join}. */
export interface AgentOptions {
  /** NATS server URL(s), comma-separated. */
  readonly nats: string;
  /** Host name in the cluster (unique). */
  readonly name: string;
  /** Address the other hosts reach this one at. */
  readonly address: string;
  /** Capabilities, as a cluster-file host entry (device or memory / memory_bandwidth / compute; threads; roles). */
  readonly capabilities: Heartbeat["capabilities"];
  /** Working directory: weights (`<dir>/<model>`), runtime.json, checksums. */
  readonly dir: string;
  /** CURVE keys of the cluster (`moe keys --out DIR`), for clusters with `curve: true`. */
  readonly keysDir?: string;
  /** First of the ports offered to the plan (default: a free range found at start). */
  readonly basePort?: number;
  /** Ports offered (default 8: a stage, a router and an expert process, two ports each, and spare). */
  readonly portCount?: number;
  /** Heartbeat period, ms. Default 1000. */
  readonly heartbeatMs?: number;
  /** Subject prefix. Default `moe`. */
  readonly prefix?: string;
  readonly logger: Logger;
  /** Progress, for the CLI. */
  readonly onEvent?: (e: AgentEvent) => void;
}

/** What an agent reports while it works. */
export type AgentEvent =
  | { readonly kind: "joined"; readonly nats: string; readonly basePort: number }
  | { readonly kind: "plan"; readonly version: number; readonly reason: string; readonly processes: readonly string[] }
  | { readonly kind: "fetching"; readonly progress: FetchProgress }
  | { readonly kind: "fetched"; readonly bytes: number; readonly seconds: number; readonly resumed: number }
  | { readonly kind: "state"; readonly state: NodeState; readonly version: number; readonly error?: string };

/** A joined host. */
export class NodeAgent {
  private readonly s: Subjects;
  private readonly subs: Subscription[] = [];
  private readonly running = new Map<string, RunningNode>();
  private readonly cache: ChecksumCache;
  private state_: NodeState = "idle";
  private error: string | undefined;
  private progress: Heartbeat["progress"];
  /** Plan being prepared or in force. */
  private target: PlanMessage | undefined;
  private runtime: Runtime | undefined;
  private activated = { epoch: 0, version: 0 };
  private queue: Promise<void> = Promise.resolve();
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly startedAt = Date.now();
  private abort = new AbortController();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly o: AgentOptions,
    readonly basePort: number,
    /** Publishes the heartbeat from a worker thread: loading a large model blocks this one for seconds. */
    private readonly beats: HeartbeatSender,
  ) {
    this.s = subjects(o.prefix);
    this.cache = new ChecksumCache(join(o.dir, ".moe-checksums.json"));
  }

  /**
   * Connect to NATS, announce this host and wait for plans.
   * @throws ControlError when NATS cannot be reached
   */
  static async join(o: AgentOptions): Promise<NodeAgent> {
    mkdirSync(o.dir, { recursive: true });
    const basePort = o.basePort ?? (await freePortRange(o.address, o.portCount ?? 8));
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: o.nats.split(","), name: `moe-node-${o.name}`, maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: false });
    } catch (e) {
      throw new ControlError("NATS_CONNECT", `cannot reach NATS at ${o.nats}: ${(e as Error).message}`, { host: o.name, fix: "start nats-server there (or pass the right --join URL)", cause: e });
    }
    let beats: HeartbeatSender;
    try {
      beats = await HeartbeatSender.start({ nats: o.nats, subject: subjects(o.prefix).heartbeat, name: o.name, periodMs: o.heartbeatMs ?? 1000 });
    } catch (e) {
      await nc.close();
      throw e;
    }
    const a = new NodeAgent(nc, o, basePort, beats);
    a.start();
    o.onEvent?.({ kind: "joined", nats: o.nats, basePort });
    return a;
  }

  /** What this host is doing now. */
  get state(): NodeState {
    return this.state_;
  }

  /** Names of the processes running here. */
  processes(): string[] {
    return [...this.running.keys()];
  }

  private start(): void {
    const on = (subject: string, f: (data: Uint8Array) => void): void => {
      this.subs.push(this.nc.subscribe(subject, { callback: (err, msg) => !err && f(msg.data) }));
    };
    on(this.s.plan, (d) => this.onPlan(() => decodeJson(planMessageSchema, d, this.s.plan) as unknown as PlanMessage));
    on(this.s.activate, (d) => {
      try {
        const m = decodeJson(activateSchema, d, this.s.activate);
        this.enqueue(() => this.activate(m.epoch, m.version));
      } catch (e) {
        this.o.logger.warn({ err: (e as Error).message }, "bad activate message");
      }
    });
    this.heartbeat(true);
    // refreshes the worker's copy: it stops heartbeating if this thread goes silent for minutes (hung)
    this.timer = setInterval(() => this.heartbeat(false), this.o.heartbeatMs ?? 1000);
    void this.askForPlan();
    void (async () => {
      for await (const st of this.nc.status()) {
        if (st.type === "reconnect") {
          this.o.logger.info({ server: st.data }, "reconnected to NATS");
          this.heartbeat(true);
          void this.askForPlan();
        } else if (st.type === "disconnect") this.o.logger.warn({ server: st.data }, "lost the NATS connection; reconnecting");
      }
    })();
  }

  /** Ask the coordinator for the plan in force (after joining or reconnecting); quiet when none answers. */
  private async askForPlan(): Promise<void> {
    try {
      const r = await this.nc.request(this.s.planGet, encodeJson({ name: this.o.name }), { timeout: 3000 });
      const st = decodeJson(planStateSchema, r.data, this.s.planGet);
      if (!st.plan) return;
      const plan = st.plan as unknown as PlanMessage;
      this.onPlan(() => plan);
      if (st.active) this.enqueue(() => this.activate(plan.epoch, plan.version));
    } catch {
      // no coordinator yet: its first plan will come on the plan subject
    }
  }

  private onPlan(read: () => PlanMessage): void {
    let plan: PlanMessage;
    try {
      plan = read();
    } catch (e) {
      this.o.logger.warn({ err: (e as Error).message }, "bad plan message");
      return;
    }
    if (!newer(plan, this.target)) return;
    this.target = plan;
    this.abort.abort(new Error(`plan ${plan.version} superseded the one being prepared`));
    this.abort = new AbortController();
    this.enqueue(() => this.prepare(plan, this.abort.signal));
  }

  private enqueue(f: () => Promise<void>): void {
    this.queue = this.queue.then(f).catch((e: unknown) => this.o.logger.error({ err: (e as Error).message }, "plan step failed"));
  }

  private setState(state: NodeState, version: number, error?: string): void {
    this.state_ = state;
    this.error = error;
    if (state !== "fetching") this.progress = undefined;
    this.o.onEvent?.({ kind: "state", state, version, ...(error ? { error } : {}) });
    this.heartbeat(true);
  }

  /** Phase 1: weights, then processes (started, restarted, or loaded in place). */
  private async prepare(plan: PlanMessage, signal: AbortSignal): Promise<void> {
    if (this.target !== plan || this.closing) return; // superseded while queued
    const rt = this.localize(plan);
    const mine = rt.processes.filter((p) => p.host === this.o.name);
    this.o.onEvent?.({ kind: "plan", version: plan.version, reason: plan.reason, processes: mine.map((p) => p.name) });
    try {
      if (mine.length === 0) {
        await this.closeAll(`plan ${plan.version} (${plan.reason}) has no process here`);
        this.runtime = rt;
        this.setState("idle", plan.version);
        return;
      }
      const manifest = plan.weights[this.o.name];
      if (!manifest) throw new ControlError("PLAN_WEIGHTS", `plan ${plan.version} gives this host processes but no weights manifest`, { host: this.o.name });
      const missing = await missingFiles(this.o.dir, manifest, this.cache);
      if (missing.length) {
        this.setState("fetching", plan.version);
        const r = await fetchFiles(this.nc, this.o.dir, manifest, missing, {
          subject: this.s.weights,
          cache: this.cache,
          signal,
          logger: this.o.logger,
          onProgress: (p) => {
            this.progress = { bytes: p.bytes, total: p.total, bytesPerSecond: p.bytesPerSecond, file: p.file };
            this.o.onEvent?.({ kind: "fetching", progress: p });
          },
        });
        this.o.onEvent?.({ kind: "fetched", bytes: r.bytesReceived, seconds: r.seconds, resumed: r.bytesResumed });
      }
      if (signal.aborted) return;
      const pruned = pruneParts(this.o.dir, manifest);
      if (pruned.length) this.o.logger.info({ pruned }, "removed parts the plan no longer needs here");
      this.setState("loading", plan.version);
      writeJsonAtomic(join(this.o.dir, "runtime.json"), rt);
      for (const [name, node] of [...this.running]) {
        const next = mine.find((p) => p.name === name);
        if (!next || !this.runtime || !canUpdateInPlace(this.runtime, node.process, rt, next)) {
          this.running.delete(name);
          await node.close();
        }
      }
      for (const p of mine) {
        const node = this.running.get(p.name);
        if (node) await node.prepare(rt);
        else this.running.set(p.name, await startNode({ runtime: rt, process: p.name, logger: this.o.logger }));
      }
      this.runtime = rt;
      this.setState("prepared", plan.version);
    } catch (e) {
      if (signal.aborted) return;
      this.o.logger.error({ err: (e as Error).message, version: plan.version }, "cannot take my part of the plan");
      this.setState("failed", plan.version, (e as Error).message);
    }
  }

  /** Phase 2: switch to the plan prepared. */
  private async activate(epoch: number, version: number): Promise<void> {
    const t = this.target;
    if (!t || t.epoch !== epoch || t.version !== version || this.state_ !== "prepared") return;
    if (this.activated.epoch === epoch && this.activated.version === version) return;
    for (const node of this.running.values()) await node.activate(this.runtime!);
    this.activated = { epoch, version };
    this.setState("ready", version);
  }

  /** The plan's runtime as this host runs it: its copy of the model, its keys. */
  private localize(plan: PlanMessage): Runtime {
    const rt = plan.runtime;
    const manifest = plan.weights[this.o.name];
    const keysDir = resolve(this.o.keysDir ?? join(this.o.dir, "keys"));
    return {
      ...rt,
      runDir: this.o.dir,
      model: { ...rt.model, path: manifest ? manifestRootPath(resolve(this.o.dir), manifest) : rt.model.path },
      curve: rt.curve ? { keysDir } : null,
    };
  }

  /** Hand the worker the current heartbeat; `now`: publish it at once (a state change). */
  private heartbeat(now: boolean): void {
    if (this.closing) return;
    const t = this.target;
    const hb: Heartbeat = {
      v: 1,
      name: this.o.name,
      address: this.o.address,
      pid: process.pid,
      basePort: this.basePort,
      portCount: this.o.portCount ?? 8,
      capabilities: this.o.capabilities,
      state: this.state_,
      epoch: t?.epoch ?? 0,
      version: t?.version ?? 0,
      ...(this.progress ? { progress: this.progress } : {}),
      ...(this.error ? { error: this.error.slice(0, 2000) } : {}),
      processes: [...this.running.values()].map((n) => ({ name: n.process.name, role: n.process.role, endpoint: n.endpoint })),
      startedAt: this.startedAt,
      seq: this.seq++,
    };
    this.beats.update(hb, now);
  }

  private async closeAll(why: string): Promise<void> {
    if (this.running.size) this.o.logger.info({ why, processes: [...this.running.keys()] }, "closing my processes");
    for (const [name, node] of [...this.running]) {
      this.running.delete(name);
      await node.close();
    }
  }

  /** Say goodbye to the coordinator, close every process and the NATS connection. Idempotent. */
  close(reason = "stopped"): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      await this.beats.stop();
      this.abort.abort(new Error(reason));
      try {
        this.nc.publish(this.s.bye, encodeJson(byeSchema.parse({ v: 1, name: this.o.name, pid: process.pid, reason })));
        await this.nc.flush();
      } catch {
        // NATS gone: the coordinator notices the missing heartbeats
      }
      await this.queue.catch(() => undefined);
      await this.closeAll(reason);
      for (const s of this.subs) s.unsubscribe();
      await this.nc.close();
    })();
    return this.closing;
  }
}

/** Whether plan `a` is newer than `b` (a later coordinator's epoch wins, then the version). */
function newer(a: { epoch: number; version: number }, b: { epoch: number; version: number } | undefined): boolean {
  return !b || a.epoch > b.epoch || (a.epoch === b.epoch && a.version > b.version);
}
