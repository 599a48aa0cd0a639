/**
 * The per-layer round trip of `moe bench cluster`: the real router → expert
 * hosts call, the same MoE in process, and the same frames through bare
 * ZeroMQ (across processes and in process), calls interleaved so that load
 * from elsewhere on the machine falls on all of them alike; and the traced
 * breakdown of one call (bench/trace.ts).
 */
import type { Runtime } from "../control/index.js";
import { routerWeights, type Engine, type ModelConfig, type WeightReader } from "../model/index.js";
import { RouterCore, ZmqExpertTransport, placementKey } from "../router/index.js";
import type { StepBackend } from "../stages/index.js";
import { deadlineIn, type WireDtype } from "../transport/index.js";
import type { BreakdownRow, PipelineRoundTrip, RoundTripLayer, RoundTripRow } from "./cluster-report.js";
import { EchoChildren, EchoClient, EchoServer, type EchoFrame } from "./echo.js";
import { callBytes, callCpu, layerCall, type CallPlacement, type LayerCall } from "./moe-calls.js";
import { median } from "./stats.js";
import { TraceHost, traceCalls } from "./trace.js";

/** Row counts measured: one sequence decoding, and a batch of 16. */
export const ROWS = [1, 16] as const;

function echoFrames(c: LayerCall, oneHost = false): EchoFrame[] {
  return EchoClient.prepare(c.dispatches.map((d) => ({ host: oneHost ? 0 : d.host, frame: d.frame, replyBytes: d.resultFrame.byteLength })));
}

function totals(t: ZmqExpertTransport): number {
  return Object.values(t.metrics()).reduce((a: number, m) => {
    const x = (m as { totals: { bytesOut: number; bytesIn: number } }).totals;
    return a + x.bytesOut + x.bytesIn;
  }, 0);
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

/** Inputs of {@link moeRoundTrips}. */
export interface RoundTripInput {
  readonly runtime: Runtime;
  readonly cfg: ModelConfig;
  readonly weights: WeightReader;
  /** The single-process engine (its in-process MoE). */
  readonly engine: Engine;
  /** Timed calls per layer and row count. */
  readonly calls: number;
}

/** One dispatch + combine per layer, for 1 and 16 rows: cluster, in process, raw ZeroMQ across processes and in process. */
export async function moeRoundTrips(o: RoundTripInput): Promise<RoundTripRow[]> {
  const { runtime, cfg, calls } = o;
  const where: CallPlacement = { experts: runtime.experts, hosts: Object.keys(runtime.expertHosts) };
  const placement = new Map(runtime.experts.map((x) => [placementKey(x.layer, x.expert), [...x.hosts]]));
  const replicaWeights = new Map(runtime.experts.flatMap((x) => (x.weights ? [[placementKey(x.layer, x.expert), [...x.weights]] as const] : [])));
  const routers = new Map(Array.from({ length: cfg.nLayers }, (_, l) => [l, routerWeights(o.weights, cfg, l).router] as const));
  const transport = new ZmqExpertTransport({ hosts: new Map(Object.entries(runtime.expertHosts)), dModel: cfg.dModel, name: "bench-router", wireDtype: runtime.wireDtype });
  const router = new RouterCore(cfg, routers, placement, transport, { dispatchTimeoutMs: 10_000, replicaWeights });
  const children = await EchoChildren.start(where.hosts.length);
  const inProc = await Promise.all(where.hosts.map(() => EchoServer.bind()));
  const raw = EchoClient.connect(children.endpoints);
  const rawIn = EchoClient.connect(inProc.map((s) => s.endpoint));
  const out: RoundTripRow[] = [];
  try {
    for (const R of ROWS) {
      const layers: RoundTripLayer[] = [];
      let wire = 0;
      for (let layer = 0; layer < cfg.nLayers; layer++) {
        const c = layerCall(cfg, routers.get(layer)!, layer, R, where, runtime.wireDtype, 7 + layer * 31 + R);
        const frames = echoFrames(c);
        const real = () => router.moe(layer, c.m, c.seq, c.pos, deadlineIn(10_000));
        for (let w = 0; w < 3; w++) {
          await real();
          await raw.call(frames);
          await rawIn.call(frames);
          await o.engine.moe.run(layer, c.m);
        }
        const t = { cluster: [] as number[], local: [] as number[], raw: [] as number[], rawIn: [] as number[] };
        const before = totals(transport);
        for (let i = 0; i < calls; i++) {
          t.cluster.push(await timed(real));
          t.raw.push(await raw.call(frames));
          t.rawIn.push(await rawIn.call(frames));
          t.local.push(await timed(() => o.engine.moe.run(layer, c.m)));
        }
        wire += totals(transport) - before;
        const b = callBytes(c);
        layers.push({
          layer,
          messages: c.dispatches.length,
          hosts: new Set(c.dispatches.map((d) => d.host)).size,
          bytesOut: b.out,
          bytesBack: b.back,
          clusterMs: median(t.cluster),
          clusterMeanMs: t.cluster.reduce((a, x) => a + x, 0) / calls,
          inProcessMs: median(t.local),
          rawMs: median(t.raw),
          rawInProcessMs: median(t.rawIn),
        });
      }
      const med = (k: keyof RoundTripLayer) => median(layers.map((l) => l[k]));
      out.push({
        rows: R,
        messages: med("messages"),
        hosts: med("hosts"),
        bytesOut: med("bytesOut"),
        bytesBack: med("bytesBack"),
        clusterMs: med("clusterMs"),
        clusterMeanMs: med("clusterMeanMs"),
        inProcessMs: med("inProcessMs"),
        rawMs: med("rawMs"),
        rawInProcessMs: med("rawInProcessMs"),
        clusterOverRaw: median(layers.map((l) => l.clusterMs / l.rawMs)),
        wireBytesPerToken: wire / (calls * R * cfg.nLayers),
        payloadBytesPerToken: cfg.nExpertsUsed * cfg.dModel * 4 * 2,
        layers,
      });
    }
  } finally {
    raw.close();
    rawIn.close();
    await transport.close();
    await Promise.all(inProc.map((s) => s.close()));
    await children.close();
  }
  return out;
}

/** Inputs of {@link traceBreakdown}. */
export interface TraceInput {
  readonly modelDir: string;
  readonly cfg: ModelConfig;
  readonly weights: WeightReader;
  readonly threads: number;
  readonly wireDtype: WireDtype;
  readonly calls: number;
}

/** Median ms of one idle event-loop turn (setImmediate) in this process. */
async function eventLoopTurn(reps: number): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) t.push(await timed(() => new Promise((r) => setImmediate(r))));
  return median(t);
}

/** The traced breakdown of a layer-0 call of 1 and 16 rows to one child expert host, with the codec timed alone and the raw baseline. */
export async function traceBreakdown(o: TraceInput): Promise<BreakdownRow[]> {
  const { cfg } = o;
  const router = routerWeights(o.weights, cfg, 0).router;
  const where: CallPlacement = { experts: Array.from({ length: cfg.nExperts }, (_, e) => ({ layer: 0, expert: e, hosts: ["trace"] })), hosts: ["trace"] };
  const host = await TraceHost.start(o.modelDir, 0, o.threads, cfg.dModel);
  const children = await EchoChildren.start(1);
  const raw = EchoClient.connect(children.endpoints);
  const out: BreakdownRow[] = [];
  try {
    for (const R of ROWS) {
      const c = layerCall(cfg, router, 0, R, where, o.wireDtype, 11 + R);
      const traced = await traceCalls(host, c, o.calls);
      const frames = echoFrames(c, true);
      for (let w = 0; w < 3; w++) await raw.call(frames);
      const rawTimes: number[] = [];
      for (let i = 0; i < o.calls; i++) rawTimes.push(await raw.call(frames));
      out.push({ rows: R, messages: c.dispatches.length, traced, cpu: callCpu(cfg, router, c, o.calls), rawOneHostMs: median(rawTimes), eventLoopTurnMs: await eventLoopTurn(o.calls) });
    }
  } finally {
    raw.close();
    await children.close();
    await host.close();
  }
  return out;
}

/**
 * The pipeline's own messages without compute: `seq.release` of sequences no
 * stage holds, sent by the pipeline client to every stage at once, each
 * answering (protocol v2): 2 × stages messages, 2 of them one after the
 * other. A step's own path is `stage.input` → the stage hops' `stage.forward`
 * → `stage.tokens` back: stages + 1 one-way messages in a row, each of the
 * same software cost (encode, send, wake-up, decode) as one of these.
 */
export async function pipelineRoundTrip(backend: StepBackend, stages: number, calls: number): Promise<PipelineRoundTrip> {
  for (let i = 0; i < 3; i++) await backend.release([4_000_000_000 + i]);
  const t: number[] = [];
  for (let i = 0; i < calls; i++) t.push(await timed(() => backend.release([4_000_000_100 + i])));
  return { roundTripMs: median(t), meanMs: t.reduce((a, x) => a + x, 0) / calls, messages: 2 * stages, sequential: 2 };
}
