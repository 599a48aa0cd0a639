/**
 * Watches a running cluster through its processes' control endpoints: who is
 * up, their counters, and the routers' per-expert load merged over all
 * stages (counts[layer][expert], the `moe plan --expert-load` format).
 * Used by the launcher (expert-load.json), the gateway (`/health`,
 * `/metrics`) and `moe status`.
 */
import type { Logger } from "pino";
import type { CurveClientOptions } from "../transport/index.js";
import type { Runtime, RuntimeProcess } from "./runtime.js";
import { ControlClient, type PingResult, type ProcessStatus } from "./status.js";
import type { StatusContext } from "./status-wire.js";

/** One process as last seen. */
export interface ProcessState {
  readonly process: RuntimeProcess;
  readonly up: boolean;
  readonly rttMs?: number;
  readonly status?: ProcessStatus;
  readonly error?: string;
  /** Unix ms of the last answer, 0 = never. */
  readonly lastSeen: number;
}

/** One host as the gateway reports it (same shape as gateway's `HostStatus`). */
export interface HostState {
  readonly name: string;
  readonly up: boolean;
  readonly roles: readonly string[];
  readonly errors: number;
  readonly stageBusySeconds: Readonly<Record<string, number>>;
  /** Expert weights (bytes as stored) and experts the host's expert processes hold, as they last reported. */
  readonly expertWeightBytes?: number;
  readonly residentExperts?: number;
  readonly detail?: string;
}

/** Options of {@link ClusterMonitor}. */
export interface ClusterMonitorOptions {
  readonly curve?: CurveClientOptions;
  /** Poll period of {@link ClusterMonitor.start}, ms. Default 2000. */
  readonly intervalMs?: number;
  /** Deadline of one ping, ms. Default 1000. */
  readonly timeoutMs?: number;
  /** Called after every periodic poll. */
  readonly onPoll?: (states: readonly ProcessState[]) => void;
  readonly logger?: Logger;
}

export class ClusterMonitor {
  private readonly clients = new Map<string, ControlClient>();
  private readonly states = new Map<string, ProcessState>();
  /** Last counts seen per stage process: layer → counts. */
  private readonly loads = new Map<number, number[]>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<readonly ProcessState[]> | undefined;
  private closed = false;

  constructor(
    readonly runtime: Runtime,
    private readonly opts: ClusterMonitorOptions = {},
  ) {
    for (const p of runtime.processes) {
      this.clients.set(p.name, new ControlClient(p.control, statusContext(runtime, p), { curve: opts.curve, name: "moe-monitor", logger: opts.logger }));
      this.states.set(p.name, { process: p, up: false, lastSeen: 0, error: "not polled yet" });
    }
  }

  /**
   * Poll anew, for a caller that must see what happened up to now: waits out a poll in flight (it may have
   * asked before the change), then polls.
   */
  async pollFresh(): Promise<readonly ProcessState[]> {
    await this.polling?.catch(() => undefined);
    return this.poll();
  }

  /** Ask every process for its status now (routers include their load); resolves to the new states. */
  poll(): Promise<readonly ProcessState[]> {
    this.polling ??= this.pollAll().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollAll(): Promise<readonly ProcessState[]> {
    const timeout = this.opts.timeoutMs ?? 1000;
    await Promise.all(
      this.runtime.processes.map(async (p) => {
        const c = this.clients.get(p.name);
        if (!c || this.closed) return;
        const r: PingResult = await c.ping(timeout);
        const prev = this.states.get(p.name)!;
        this.states.set(p.name, { process: p, up: r.up, rttMs: r.rttMs, status: r.status, error: r.error, lastSeen: r.up ? Date.now() : prev.lastSeen });
        // token counts live where the router runs: in the stage process, or in a router process of its own
        const load = r.status?.load;
        if (load) load.counts.forEach((row, i) => this.loads.set(load.first + i, row));
      }),
    );
    return this.snapshot();
  }

  /** Poll every `intervalMs` until {@link close}. */
  start(): void {
    if (this.timer || this.closed) return;
    const tick = (): void => {
      void this.poll().then((s) => {
        this.opts.onPoll?.(s);
        if (!this.closed) this.timer = setTimeout(tick, this.opts.intervalMs ?? 2000);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Process states as of the last poll, in runtime order. */
  snapshot(): readonly ProcessState[] {
    return this.runtime.processes.map((p) => this.states.get(p.name)!);
  }

  /** Tokens routed per (layer, expert), all routers together, as last seen: `[layers][experts]`. */
  expertLoad(): number[][] {
    const { layers, experts } = this.runtime.model;
    return Array.from({ length: layers }, (_, l) => [...(this.loads.get(l) ?? new Array<number>(experts).fill(0))]);
  }

  /** Per-host view for the gateway's `/health` and metrics (a host is up when all its processes are). */
  hostStates(): HostState[] {
    const byHost = new Map<string, ProcessState[]>();
    for (const s of this.snapshot()) (byHost.get(s.process.host) ?? byHost.set(s.process.host, []).get(s.process.host)!).push(s);
    return [...byHost].map(([name, ss]) => {
      const roles = new Set<string>();
      const busy: Record<string, number> = {};
      let errors = 0;
      let expertWeightBytes: number | undefined;
      let residentExperts: number | undefined;
      for (const s of ss) {
        const ex = s.status?.expert;
        if (ex?.residentWeightBytes !== undefined) expertWeightBytes = (expertWeightBytes ?? 0) + ex.residentWeightBytes;
        if (ex?.residentExperts !== undefined) residentExperts = (residentExperts ?? 0) + ex.residentExperts;
        if (s.process.role === "stage") roles.add("stage").add("router");
        else roles.add(s.process.role);
        if (s.status?.stage) busy[String(s.status.stage.index)] = s.status.stage.busySeconds;
        errors += s.status?.wire?.errors ?? 0;
      }
      const down = ss.filter((s) => !s.up);
      return {
        name,
        up: down.length === 0,
        roles: [...roles],
        errors,
        stageBusySeconds: busy,
        ...(expertWeightBytes !== undefined ? { expertWeightBytes } : {}),
        ...(residentExperts !== undefined ? { residentExperts } : {}),
        ...(down.length ? { detail: down.map((s) => `${s.process.name}: ${s.error ?? "down"}`).join("; ") } : {}),
      };
    });
  }

  /** Stop polling and close the sockets. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling?.catch(() => undefined);
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}

/** What a status reader knows of process `p` from runtime.json. */
export function statusContext(runtime: Runtime, p: RuntimeProcess): StatusContext {
  return { name: p.name, host: p.host, expertHosts: Object.keys(runtime.expertHosts).sort(), ...(p.role === "gateway" ? { gatewayBind: p.bind } : {}) };
}
