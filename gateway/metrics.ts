/**
 * The gateway's Prometheus metrics (prom-client, on a registry of its own so
 * several gateways can share a process). Series and label names come from
 * transport/metric-names.ts, the one list the load tester reads too.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { METRIC_LABELS as L, METRIC_NAMES } from "../transport/index.js";
import type { SchedulerObserver } from "./scheduler.js";

/** One host of a cluster as the cluster client sees it (a LocalBackend has none). */
export interface HostStatus {
  /** Host name (the plan's host name). */
  readonly name: string;
  readonly up: boolean;
  /** Roles the host plays (`stage`, `router`, `expert`). */
  readonly roles?: readonly string[];
  /** Errors counted for this host since start (timeouts, rejected messages, failed calls); cumulative. */
  readonly errors?: number;
  /** Busy time per pipeline stage on this host since start, seconds; cumulative. Key = stage label. */
  readonly stageBusySeconds?: Readonly<Record<string, number>>;
  /**
   * Expert hosts: the expert weights its sessions hold (bytes as stored, f32 values or Q8_0 blocks) and how
   * many experts those are; a re-plan that moves experts away frees theirs. Absent on hosts without experts.
   */
  readonly expertWeightBytes?: number;
  readonly residentExperts?: number;
  /** Free-form detail shown by `/health` (last error, last heartbeat age). */
  readonly detail?: string;
}

/** Live values the metrics read at scrape time. */
export interface MetricsSources {
  queueDepth(): number;
  runningSequences(): number;
  kvSequences(): number;
  inFlightSteps(): number;
  /** Sequences the backend reclaimed after they sat idle, since start. */
  reclaimedSequences?: () => number;
  /** Tokens routed per (layer, expert) since start: counts[layer][expert]. */
  expertLoad?: () => number[][];
  /** Hosts of the cluster; when absent the gateway reports one host, `local` (stage "0"), with its step errors and busy time. */
  clusterStatus?: () => readonly HostStatus[] | Promise<readonly HostStatus[]>;
}

/** Series names (see the README's metrics table): the shared contract of transport/metric-names.ts. */
export { METRIC_NAMES };

/** Name of the single host reported for a single-process backend. */
export const LOCAL_HOST = "local";

/** Window of the tokens-per-second gauge, seconds. */
const RATE_WINDOW_S = 10;

export class GatewayMetrics implements SchedulerObserver {
  readonly registry = new Registry();
  private readonly ttft: Histogram;
  private readonly itl: Histogram;
  private readonly stepS: Histogram;
  private readonly generatedTotal: Counter;
  private readonly promptTotal: Counter;
  private readonly requestsTotal: Counter<"status">;
  private hosts: readonly HostStatus[] = [];
  private localErrors = 0;
  private readonly warmupPasses: Counter;
  private readonly warmupTokens: Counter;
  private readonly warmupSeconds: Gauge;
  /** Sum of step durations, seconds (the local pseudo-host's busy time). */
  private busyS = 0;
  /** Generated tokens per whole second (epoch s) over the last window. */
  private readonly perSecond = new Map<number, number>();

  constructor(private readonly src: MetricsSources) {
    const r = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: r, collect() { this.set(read()); } });
    gauge(METRIC_NAMES.queueDepth, "Requests waiting for admission", () => src.queueDepth());
    gauge(METRIC_NAMES.running, "Sequences admitted and generating (prefill or decode)", () => src.runningSequences());
    gauge(METRIC_NAMES.kvSequences, "Sequences holding a KV cache in the backend", () => src.kvSequences());
    gauge(METRIC_NAMES.inFlight, "Micro-batches in flight in the backend pipeline", () => src.inFlightSteps());
    new Counter({
      name: METRIC_NAMES.reclaimed,
      help: "Sequences freed by the stages after sitting idle past the timeout (never released by their client)",
      registers: r,
      collect() {
        this.reset();
        this.inc(src.reclaimedSequences?.() ?? 0);
      },
    });
    gauge(METRIC_NAMES.tokensPerS, `Generated tokens per second over the last ${RATE_WINDOW_S} s`, () => this.rate());
    this.ttft = new Histogram({ name: METRIC_NAMES.ttft, help: "Time from request arrival to its first token, seconds", registers: r, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
    this.itl = new Histogram({ name: METRIC_NAMES.itl, help: "Time between consecutive tokens of one sequence, seconds", registers: r, buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5] });
    this.stepS = new Histogram({ name: METRIC_NAMES.step, help: "Duration of one backend step (micro-batch), seconds", registers: r, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
    this.generatedTotal = new Counter({ name: METRIC_NAMES.generated, help: "Tokens generated", registers: r });
    this.promptTotal = new Counter({ name: METRIC_NAMES.prompt, help: "Prompt tokens prefilled", registers: r });
    this.requestsTotal = new Counter({ name: METRIC_NAMES.requests, help: "HTTP requests to the generation endpoints by response status", labelNames: [L.status], registers: r });
    this.warmupPasses = new Counter({ name: METRIC_NAMES.warmupPasses, help: "Start-up warm-up passes run before the gateway accepted requests", registers: r });
    this.warmupTokens = new Counter({ name: METRIC_NAMES.warmupTokens, help: "Tokens generated by the start-up warm-up (not counted as generated tokens)", registers: r });
    this.warmupSeconds = new Gauge({ name: METRIC_NAMES.warmupSeconds, help: "Wall time of the start-up warm-up, seconds", registers: r });
    const expertLoad = src.expertLoad;
    if (expertLoad)
      new Counter({
        name: METRIC_NAMES.expertTokens,
        help: "Tokens routed to each (layer, expert)",
        labelNames: [L.layer, L.expert],
        registers: r,
        collect() {
          this.reset();
          expertLoad().forEach((row, l) => row.forEach((n, e) => this.inc({ layer: String(l), expert: String(e) }, n)));
        },
      });
    const hosts = () => this.hostList();
    new Counter({
      name: METRIC_NAMES.stageBusy,
      help: "Busy time of each pipeline stage on each host, seconds",
      labelNames: [L.stage, L.host],
      registers: r,
      collect() {
        this.reset();
        for (const h of hosts()) for (const [stage, s] of Object.entries(h.stageBusySeconds ?? {})) this.inc({ stage, host: h.name }, s);
      },
    });
    new Counter({
      name: METRIC_NAMES.hostErrors,
      help: "Errors per host (failed steps, timeouts, rejected messages)",
      labelNames: [L.host],
      registers: r,
      collect() {
        this.reset();
        for (const h of hosts()) this.inc({ host: h.name }, h.errors ?? 0);
      },
    });
    for (const [name, help, read] of [
      [METRIC_NAMES.hostExpertWeightBytes, "Expert weights the host's expert sessions hold, bytes as stored (f32 values or Q8_0 blocks)", (h: HostStatus) => h.expertWeightBytes],
      [METRIC_NAMES.hostResidentExperts, "(layer, expert) FFNs whose weights the host's expert sessions hold", (h: HostStatus) => h.residentExperts],
    ] as const)
      new Gauge({
        name,
        help,
        labelNames: [L.host],
        registers: r,
        collect() {
          this.reset();
          for (const h of hosts()) {
            const v = read(h);
            if (v !== undefined) this.set({ host: h.name }, v);
          }
        },
      });
    new Gauge({
      name: METRIC_NAMES.hostUp,
      help: "1 when the host is up, 0 when down",
      labelNames: [L.host],
      registers: r,
      collect() {
        this.reset();
        for (const h of hosts()) this.set({ host: h.name }, h.up ? 1 : 0);
      },
    });
  }

  /** Hosts as last read (the local pseudo-host without a cluster). */
  hostList(): readonly HostStatus[] {
    if (this.src.clusterStatus) return this.hosts;
    return [{ name: LOCAL_HOST, up: true, roles: ["stage", "router", "expert"], errors: this.localErrors, stageBusySeconds: { "0": this.busyS } }];
  }

  /** Read the cluster status (once per scrape / health check). */
  async refreshHosts(): Promise<readonly HostStatus[]> {
    if (this.src.clusterStatus) this.hosts = await this.src.clusterStatus();
    return this.hostList();
  }

  /** The exposition text. */
  async text(): Promise<string> {
    await this.refreshHosts();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Record the start-up warm-up: passes run, tokens generated, wall seconds. */
  warmup(passes: number, tokens: number, seconds: number): void {
    this.warmupPasses.inc(passes);
    this.warmupTokens.inc(tokens);
    this.warmupSeconds.set(seconds);
  }

  /** Count one answered generation request by its HTTP status. */
  request(status: number): void {
    this.requestsTotal.inc({ status: String(status) });
  }

  firstToken(s: number): void {
    this.ttft.observe(s);
  }

  interToken(s: number): void {
    this.itl.observe(s);
  }

  step(s: number): void {
    this.stepS.observe(s);
    this.busyS += s;
  }

  generated(n: number): void {
    this.generatedTotal.inc(n);
    const sec = Math.floor(Date.now() / 1000);
    this.perSecond.set(sec, (this.perSecond.get(sec) ?? 0) + n);
    if (this.perSecond.size > RATE_WINDOW_S * 2) this.prune(sec);
  }

  prefilled(n: number): void {
    this.promptTotal.inc(n);
  }

  stepError(): void {
    this.localErrors++;
  }

  private prune(nowS: number): void {
    for (const k of this.perSecond.keys()) if (k <= nowS - RATE_WINDOW_S) this.perSecond.delete(k);
  }

  private rate(): number {
    const nowS = Math.floor(Date.now() / 1000);
    this.prune(nowS);
    let n = 0;
    for (const [k, v] of this.perSecond) if (k > nowS - RATE_WINDOW_S && k < nowS) n += v;
    return n / (RATE_WINDOW_S - 1);
  }
}
