/**
 * One cluster process (`moe node --runtime FILE --process NAME`): reads its
 * part of runtime.json and runs it — a stage host with its router
 * (RouterCore + ZeroMQ expert transport) in-process, an expert host, or the
 * HTTP gateway over a pipeline client — plus its control endpoint. `close()`
 * shuts every socket, session and file it opened.
 */
import type { Logger } from "pino";
import { routerWeights, type openModel } from "../model/index.js";
import { RemoteRouter, RouterCore, RouterService, ZmqExpertTransport, placementKey } from "../router/index.js";
import { StageHost } from "../stages/index.js";
import { clientCurve, loadClusterKeys, serverCurve, type ClusterKeys } from "../transport/index.js";
import { RuntimeLayoutError } from "./errors.js";
import { startExperts } from "./expert-role.js";
import { startGatewayRole } from "./gateway-role.js";
import { openChecked, type Role, type WarmupSummary } from "./node-role.js";
import { processByName, type Runtime, type RuntimeProcess } from "./runtime.js";
import { ControlServer, type ProcessStatus, type WireStatus } from "./status.js";

/** A running process of the cluster. */
export interface RunningNode {
  readonly process: RuntimeProcess;
  /** The gateway's start-up warm-up, when one ran (passes, sequences per pass, tokens, seconds). */
  readonly warmup?: WarmupSummary;
  /** Bound data endpoint (the gateway: its URL). */
  readonly endpoint: string;
  readonly control: string;
  /** Current status (what the control endpoint answers). */
  status(): ProcessStatus;
  /**
   * A re-plan, phase 1 (dynamic mode): load what the new runtime adds to this process (experts placed
   * here) while it keeps serving the old placement. Only for a runtime where {@link canUpdateInPlace} holds.
   */
  prepare(runtime: Runtime): Promise<void>;
  /** Phase 2, once every host is prepared: routers switch to the new placement, moved experts are unloaded. */
  activate(runtime: Runtime): Promise<void>;
  /** Close everything this process opened. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link startNode}. */
export interface NodeOptions {
  readonly runtime: Runtime;
  /** Process name in runtime.json. */
  readonly process: string;
  readonly logger: Logger;
  /** The gateway is about to run its start-up warm-up of `passes` passes (every other process answers). */
  readonly onWarmup?: (passes: number) => void;
}


/**
 * Whether process `a` of the running runtime can become `b` of a new one without a restart: same name,
 * role, sockets, threads and model, and for a stage the same layers and neighbours. Expert sets and the
 * expert placement may differ (applied by {@link RunningNode.prepare} / {@link RunningNode.activate}).
 */
export function canUpdateInPlace(ra: Runtime, a: RuntimeProcess, rb: Runtime, b: RuntimeProcess): boolean {
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  if (a.name !== b.name || a.role !== b.role || a.bind !== b.bind || a.controlBind !== b.controlBind || a.threads !== b.threads || a.executionProvider !== b.executionProvider) return false;
  if (!same(ra.model, rb.model) || ra.wireDtype !== rb.wireDtype || !same(ra.curve, rb.curve) || !same(ra.timeouts, rb.timeouts)) return false;
  if (a.role === "stage") return same(a.stage, b.stage);
  if (a.role === "router") return same(a.routerOf, b.routerOf);
  if (a.role === "gateway") return same(ra.limits, rb.limits);
  return true;
}

/**
 * Start the process `opts.process` of the runtime; resolves once it serves.
 * @throws RuntimeLayoutError when the model does not match the runtime; load and bind errors
 */
export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const p = processByName(opts.runtime, opts.process);
  const logger = opts.logger.child({ process: p.name, role: p.role });
  const keys = opts.runtime.curve ? loadClusterKeys(opts.runtime.curve.keysDir) : undefined;
  const started = Date.now();
  const role =
    p.role === "stage"
      ? await startStage(opts.runtime, p, keys, logger)
      : p.role === "router"
        ? await startRouter(opts.runtime, p, keys, logger)
        : p.role === "expert"
          ? await startExperts(opts.runtime, p, keys, logger)
          : await startGatewayRole(opts, p, keys, logger);
  const status = (): ProcessStatus =>
    role.status({ name: p.name, host: p.host, role: p.role, pid: process.pid, uptimeSeconds: (Date.now() - started) / 1000, rssBytes: process.memoryUsage.rss() });
  let control: ControlServer;
  // status rows name expert hosts by index: the list follows re-plans
  let expertHosts = Object.keys(opts.runtime.expertHosts).sort();
  let current = { runtime: opts.runtime, process: p };
  try {
    control = await ControlServer.bind({
      endpoint: p.controlBind,
      name: p.name,
      status,
      get expertHosts() {
        return expertHosts;
      },
      curve: keys ? serverCurve(keys) : undefined,
      logger,
    });
  } catch (e) {
    await role.close();
    throw e;
  }
  logger.info({ endpoint: role.endpoint, control: control.endpoint }, "ready");
  let closing: Promise<void> | undefined;
  return {
    process: p,
    ...(role.warmup ? { warmup: role.warmup } : {}),
    endpoint: role.endpoint,
    control: control.endpoint,
    status,
    prepare: async (runtime) => {
      const next = processByName(runtime, p.name);
      if (!canUpdateInPlace(current.runtime, current.process, runtime, next)) throw new RuntimeLayoutError(`${p.name}: the new plan changes this process's role, sockets or layers; restart it instead`, { process: p.name });
      await role.prepare?.(runtime, next);
    },
    activate: async (runtime) => {
      const next = processByName(runtime, p.name);
      await role.activate?.(runtime, next);
      expertHosts = Object.keys(runtime.expertHosts).sort();
      current = { runtime, process: next };
      logger.info({ version: runtime.dynamic?.version }, "switched to the new plan");
    },
    close: () =>
      (closing ??= (async () => {
        await control.close();
        await role.close();
        logger.info("closed");
      })()),
  };
}


/** A RouterCore for layers [first, end) with its ZeroMQ transport to the expert hosts holding them. */
function buildRouter(runtime: Runtime, p: RuntimeProcess, m: ReturnType<typeof openModel>, layers: readonly [number, number], name: string, keys: ClusterKeys | undefined, logger: Logger) {
  const cfg = m.config;
  const [first, end] = layers;
  const { hosts, placement, replicaWeights } = routerPlacement(runtime, p, layers);
  const routers = new Map<number, Float32Array>();
  for (let l = first; l < end; l++) routers.set(l, routerWeights(m.weights, cfg, l).router);
  const transport = new ZmqExpertTransport({ hosts, dModel: cfg.dModel, name, wireDtype: runtime.wireDtype, curve: keys ? clientCurve(keys) : undefined, logger: logger.child({ component: "router" }) });
  // dynamic mode: a dispatch whose every replica is gone waits for the coordinator's re-plan
  const router = new RouterCore(cfg, routers, placement, transport, { dispatchTimeoutMs: runtime.timeouts.dispatchMs, replicaWeights, holdForPlacement: runtime.dynamic !== undefined });
  const switchTo = async (next: Runtime, q: RuntimeProcess): Promise<void> => {
    const n = routerPlacement(next, q, layers);
    const closing = transport.setHosts(n.hosts); // adds new hosts at once, closes dropped ones after the switch
    router.setPlacement(n.placement, n.replicaWeights);
    await closing;
  };
  return { router, transport, switchTo };
}

/** The expert hosts, placement and replica weights a router of layers [first, end) needs from a runtime. */
function routerPlacement(runtime: Runtime, p: RuntimeProcess, layers: readonly [number, number]) {
  const [first, end] = layers;
  const mine = runtime.experts.filter((x) => x.layer >= first && x.layer < end);
  const hostNames = new Set(mine.flatMap((x) => x.hosts));
  const hosts = new Map([...hostNames].map((h) => [h, runtime.expertHosts[h]!] as const));
  for (const [h, ep] of hosts) if (ep === undefined) throw new RuntimeLayoutError(`${p.name}: expert host '${h}' has no expert process in runtime.json`, { process: p.name, host: h });
  const placement = new Map(mine.map((x) => [placementKey(x.layer, x.expert), [...x.hosts]]));
  const replicaWeights = new Map(mine.filter((x) => x.weights).map((x) => [placementKey(x.layer, x.expert), [...x.weights!]]));
  return { hosts, placement, replicaWeights };
}

/** What a router reports: rows in flight, hosts it considers down, wire totals, and its token counts. */
function routerStatus(router: RouterCore, transport: ZmqExpertTransport, layers: readonly [number, number]) {
  let inflightRows = 0;
  const downHosts: string[] = [];
  for (const [h, st] of router.hostHealth()) {
    inflightRows += st.inflightRows;
    if (st.downUntil > Date.now()) downHosts.push(h);
  }
  const [first, end] = layers;
  return { inflightRows, downHosts, wire: wireTotals(transport), load: { first, counts: router.load.slice(first, end).map((r) => [...r]) } };
}

async function startStage(runtime: Runtime, p: RuntimeProcess, keys: ClusterKeys | undefined, logger: Logger): Promise<Role> {
  const s = p.stage!;
  const m = openChecked(runtime, p);
  const cfg = m.config;
  const [first, end] = s.layers;
  let local: ReturnType<typeof buildRouter> | undefined;
  let remote: RemoteRouter | undefined;
  try {
    if (s.routerEndpoint) remote = new RemoteRouter({ endpoint: s.routerEndpoint, dModel: cfg.dModel, name: p.name, wireDtype: runtime.wireDtype, curve: keys ? clientCurve(keys) : undefined, logger });
    else local = buildRouter(runtime, p, m, s.layers, s.router, keys, logger);
    const stage = await StageHost.start({
      name: p.name,
      config: cfg,
      weights: m.weights,
      layers: [first, end],
      endpoint: p.bind,
      ...(s.next ? { next: s.next } : {}),
      moe: local?.router ?? remote!,
      compute: { threads: p.threads, executionProvider: p.executionProvider },
      wireDtype: runtime.wireDtype,
      idleTimeoutMs: runtime.timeouts.sequenceIdleMs,
      stepDeadlineMs: runtime.timeouts.stepMs,
      curveServer: keys ? serverCurve(keys) : undefined,
      curveClient: keys ? clientCurve(keys) : undefined,
      logger,
    });
    return {
      endpoint: stage.endpoint,
      status: (base) => {
        const stats = {
          index: s.index,
          layers: [first, end] as [number, number],
          live: stage.liveSequences,
          busySeconds: stage.stats.busySeconds,
          requests: stage.stats.requests,
          rows: stage.stats.rows,
          reclaimed: stage.reclaimedSequences,
          failures: stage.stats.failures,
        };
        if (!local) return { ...base, stage: { ...stats, inflightRows: 0, downHosts: [] } }; // its router process reports those
        const { inflightRows, downHosts, wire, ...rest } = routerStatus(local.router, local.transport, s.layers);
        return { ...base, stage: { ...stats, inflightRows, downHosts }, wire, ...rest };
      },
      activate: async (next, q) => {
        await local?.switchTo(next, q);
      },
      close: async () => {
        await stage.close();
        await local?.transport.close();
        await remote?.close();
        m.close();
      },
    };
  } catch (e) {
    await local?.transport.close();
    await remote?.close();
    m.close();
    throw e;
  }
}

/** A router in a process of its own, serving its stage's `router.request`s. */
async function startRouter(runtime: Runtime, p: RuntimeProcess, keys: ClusterKeys | undefined, logger: Logger): Promise<Role> {
  const r = p.routerOf!;
  const m = openChecked(runtime, p);
  let built: ReturnType<typeof buildRouter> | undefined;
  try {
    built = buildRouter(runtime, p, m, r.layers, p.name, keys, logger);
    const service = await RouterService.start({ name: p.name, endpoint: p.bind, core: built.router, dModel: m.config.dModel, wireDtype: runtime.wireDtype, curve: keys ? serverCurve(keys) : undefined, logger });
    const { router, transport } = built;
    return {
      endpoint: service.endpoint,
      status: (base) => ({ ...base, router: { index: r.index, layers: [r.layers[0], r.layers[1]] }, ...routerStatus(router, transport, r.layers) }),
      activate: (next, q) => built!.switchTo(next, q),
      close: async () => {
        await service.close();
        await transport.close();
        m.close();
      },
    };
  } catch (e) {
    await built?.transport.close();
    m.close();
    throw e;
  }
}

/** Router → expert totals from the transport's per-host client metrics. */
function wireTotals(t: ZmqExpertTransport): WireStatus {
  const per = Object.values(t.metrics()) as { totals: { messagesOut: number; bytesOut: number; bytesIn: number; errors: number; latency: { count: number; meanMs: number; p50Ms: number; p99Ms: number } } }[];
  const sum = (f: (x: (typeof per)[number]["totals"]) => number) => per.reduce((a, m) => a + f(m.totals), 0);
  const count = sum((x) => x.latency.count);
  const weighted = (f: (x: (typeof per)[number]["totals"]) => number) => (count ? per.reduce((a, m) => a + f(m.totals) * m.totals.latency.count, 0) / count : 0);
  return {
    messagesOut: sum((x) => x.messagesOut),
    bytesOut: sum((x) => x.bytesOut),
    bytesIn: sum((x) => x.bytesIn),
    errors: sum((x) => x.errors),
    count,
    meanMs: weighted((x) => x.latency.meanMs),
    p50Ms: weighted((x) => x.latency.p50Ms),
    p99Ms: Math.max(0, ...per.map((m) => m.totals.latency.p99Ms)),
  };
}
