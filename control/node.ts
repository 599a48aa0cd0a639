/**
 * One cluster process (`moe node --runtime FILE --process NAME`): reads its
 * part of runtime.json and runs it — a stage host with its router
 * (RouterCore + ZeroMQ expert transport) in-process, an expert host, or the
 * HTTP gateway over a pipeline client — plus its control endpoint. `close()`
 * shuts every socket, session and file it opened.
 */
import type { Logger } from "pino";
import { loadTokenizerOrIds, openModel, routerWeights, type ModelConfig } from "../model/index.js";
import { RemoteRouter, RouterCore, RouterService, ZmqExpertTransport, placementKey } from "../router/index.js";
import { ExpertHost, PipelineClient, StageHost } from "../stages/index.js";
import { clientCurve, loadClusterKeys, serverCurve, type ClusterKeys } from "../transport/index.js";
import { startGateway, type Gateway } from "../gateway/index.js";
import { RuntimeLayoutError } from "./errors.js";
import { ClusterMonitor } from "./monitor.js";
import { checkPartHost, modelPathFor } from "./parts.js";
import { processByName, stageEndpoints, type Runtime, type RuntimeProcess } from "./runtime.js";
import { ControlServer, type ProcessStatus, type WireStatus } from "./status.js";

/** A running process of the cluster. */
export interface RunningNode {
  readonly process: RuntimeProcess;
  /** Bound data endpoint (the gateway: its URL). */
  readonly endpoint: string;
  readonly control: string;
  /** Current status (what the control endpoint answers). */
  status(): ProcessStatus;
  /** Close everything this process opened. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link startNode}. */
export interface NodeOptions {
  readonly runtime: Runtime;
  /** Process name in runtime.json. */
  readonly process: string;
  readonly logger: Logger;
}

/** The role's resources, closed in reverse order of opening. */
interface Role {
  endpoint: string;
  status(base: ProcessStatus): ProcessStatus;
  close(): Promise<void>;
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
  try {
    control = await ControlServer.bind({ endpoint: p.controlBind, name: p.name, status, expertHosts: Object.keys(opts.runtime.expertHosts).sort(), curve: keys ? serverCurve(keys) : undefined, logger });
  } catch (e) {
    await role.close();
    throw e;
  }
  logger.info({ endpoint: role.endpoint, control: control.endpoint }, "ready");
  let closing: Promise<void> | undefined;
  return {
    process: p,
    endpoint: role.endpoint,
    control: control.endpoint,
    status,
    close: () =>
      (closing ??= (async () => {
        await control.close();
        await role.close();
        logger.info("closed");
      })()),
  };
}

/** Open the model (or this host's part of it) and check it is the one the runtime was planned for. */
function openChecked(runtime: Runtime, p: RuntimeProcess): ReturnType<typeof openModel> {
  const m = openModel(modelPathFor(runtime, p));
  try {
    checkPartHost(m, p);
  } catch (e) {
    m.close();
    throw e;
  }
  const c: ModelConfig = m.config;
  const want = runtime.model;
  if (c.nLayers !== want.layers || c.nExperts !== want.experts || c.dModel !== want.dModel || c.vocabSize !== want.vocabSize) {
    m.close();
    throw new RuntimeLayoutError(
      `${p.name}: ${runtime.model.path} has ${c.nLayers} layers × ${c.nExperts} experts, d_model ${c.dModel}, vocab ${c.vocabSize}; runtime.json was planned for ${want.layers} × ${want.experts}, ${want.dModel}, ${want.vocabSize}`,
      { process: p.name, fix: "start the cluster again with `moe up` for this model" },
    );
  }
  return m;
}

/** A RouterCore for layers [first, end) with its ZeroMQ transport to the expert hosts holding them. */
function buildRouter(runtime: Runtime, p: RuntimeProcess, m: ReturnType<typeof openModel>, layers: readonly [number, number], name: string, keys: ClusterKeys | undefined, logger: Logger) {
  const cfg = m.config;
  const [first, end] = layers;
  const mine = runtime.experts.filter((x) => x.layer >= first && x.layer < end);
  const hostNames = new Set(mine.flatMap((x) => x.hosts));
  const hosts = new Map([...hostNames].map((h) => [h, runtime.expertHosts[h]!] as const));
  for (const [h, ep] of hosts) if (ep === undefined) throw new RuntimeLayoutError(`${p.name}: expert host '${h}' has no expert process in runtime.json`, { process: p.name, host: h });
  const routers = new Map<number, Float32Array>();
  for (let l = first; l < end; l++) routers.set(l, routerWeights(m.weights, cfg, l).router);
  const placement = new Map(mine.map((x) => [placementKey(x.layer, x.expert), [...x.hosts]]));
  const transport = new ZmqExpertTransport({ hosts, dModel: cfg.dModel, name, wireDtype: runtime.wireDtype, curve: keys ? clientCurve(keys) : undefined, logger: logger.child({ component: "router" }) });
  const replicaWeights = new Map(mine.filter((x) => x.weights).map((x) => [placementKey(x.layer, x.expert), [...x.weights!]]));
  return { router: new RouterCore(cfg, routers, placement, transport, { dispatchTimeoutMs: runtime.timeouts.dispatchMs, replicaWeights }), transport };
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

async function startExperts(runtime: Runtime, p: RuntimeProcess, keys: ClusterKeys | undefined, logger: Logger): Promise<Role> {
  const m = openChecked(runtime, p);
  try {
    const host = await ExpertHost.start({
      // the cluster host's name: routers' errors and replies name the host
      name: p.host,
      config: m.config,
      weights: m.weights,
      experts: p.experts ?? [],
      endpoint: p.bind,
      compute: { threads: p.threads, executionProvider: p.executionProvider },
      wireDtype: runtime.wireDtype,
      curve: keys ? serverCurve(keys) : undefined,
      logger,
    });
    return {
      endpoint: host.endpoint,
      status: (base) => ({ ...base, expert: { experts: p.experts?.length ?? 0, ...host.batcher.stats } }),
      close: async () => {
        await host.close();
        m.close();
      },
    };
  } catch (e) {
    m.close();
    throw e;
  }
}

async function startGatewayRole(opts: NodeOptions, p: RuntimeProcess, keys: ClusterKeys | undefined, logger: Logger): Promise<Role> {
  const runtime = opts.runtime;
  const m = openChecked(runtime, p);
  let config: ModelConfig;
  let tokenizer;
  const tokenizerSource = m.tokenizer;
  try {
    config = m.config;
    tokenizer = await loadTokenizerOrIds(m.tokenizer, m.config);
  } finally {
    m.close();
  }
  const endpoints = stageEndpoints(runtime);
  const curve = keys ? clientCurve(keys) : undefined;
  const backend = new PipelineClient({ endpoints, vocabSize: config.vocabSize, name: p.name, stepDeadlineMs: runtime.timeouts.stepMs, curve, logger });
  const monitor = new ClusterMonitor(runtime, { curve, logger, intervalMs: 500 });
  monitor.start();
  const [host, port] = splitHostPort(p.bind);
  let gateway: Gateway;
  try {
    gateway = await startGateway({
      backend,
      tokenizer,
      config,
      modelName: runtime.model.name,
      tokenizerSource,
      host,
      port,
      // `moe up --api-key` (or MOE_API_KEY of the launcher) reaches the gateway through its environment
      ...(process.env.MOE_API_KEY ? { apiKey: process.env.MOE_API_KEY } : {}),
      limits: runtime.limits ?? undefined,
      expertLoad: () => monitor.expertLoad(),
      // sequences holding KV caches, as the stages last reported (every stage holds the same sequences)
      kvSequences: () => Math.max(0, ...monitor.snapshot().map((st) => st.status?.stage?.live ?? 0)),
      // every stage reclaims the same idle sequences: count them once
      reclaimedSequences: () => Math.max(0, ...monitor.snapshot().map((st) => st.status?.stage?.reclaimed ?? 0)),
      clusterStatus: async () => {
        await monitor.poll();
        return monitor.hostStates();
      },
      logger,
    });
  } catch (e) {
    await monitor.close();
    await backend.close();
    throw e;
  }
  return {
    endpoint: gateway.url,
    status: (base) => ({ ...base, gateway: { url: gateway.url } }),
    close: async () => {
      await gateway.close();
      await monitor.close();
      await backend.close();
    },
  };
}

/** "127.0.0.1:8000" → ["127.0.0.1", 8000]. */
function splitHostPort(bind: string): [string, number] {
  const i = bind.lastIndexOf(":");
  return [bind.slice(0, i).replace(/^\[|\]$/g, ""), Number(bind.slice(i + 1))];
}
