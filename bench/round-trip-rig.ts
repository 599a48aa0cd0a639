/**
 * The per-layer round trip of `moe bench cluster`, sampled in slices: the
 * real router → expert hosts call, the same MoE in process, and the same
 * frames through bare ZeroMQ (across processes and in process), calls
 * interleaved so that load from elsewhere on the machine falls on all of them
 * alike; and the pipeline's own messages (`seq.release`).
 *
 * `moe bench cluster` takes a slice after every decode repetition
 * (bench/decode-compare.ts `afterRepetition`), so that these figures, which
 * `moe plan --calibrate` fits the message costs to, are measured in the same
 * minutes as the cluster's decode rates it checks them against: on a shared
 * machine the round trip alone moved 2× between two runs a minute apart.
 */
import type { Runtime } from "../control/index.js";
import { routerWeights, type Engine, type ModelConfig, type WeightReader } from "../model/index.js";
import { RouterCore, ZmqExpertTransport, placementKey } from "../router/index.js";
import type { StepBackend } from "../stages/index.js";
import { deadlineIn } from "../transport/index.js";
import type { PipelineRoundTrip, RoundTripLayer, RoundTripRow } from "./cluster-report.js";
import { EchoChildren, EchoClient, EchoServer, type EchoFrame } from "./echo.js";
import { callBytes, layerCall, type CallPlacement, type LayerCall } from "./moe-calls.js";
import { median } from "./stats.js";

/** Row counts measured: one sequence decoding, and a batch of 16. */
export const ROWS = [1, 16] as const;

/** The frames of a call as the echo client replays them (`oneHost`: all to the first echo host). */
export function echoFrames(c: LayerCall, oneHost = false): EchoFrame[] {
  return EchoClient.prepare(c.dispatches.map((d) => ({ host: oneHost ? 0 : d.host, frame: d.frame, replyBytes: d.resultFrame.byteLength })));
}

/** Wall ms of `f`. */
export async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

function totals(t: ZmqExpertTransport): number {
  return Object.values(t.metrics()).reduce((a: number, m) => {
    const x = (m as { totals: { bytesOut: number; bytesIn: number } }).totals;
    return a + x.bytesOut + x.bytesIn;
  }, 0);
}

/** Inputs of {@link RoundTripRig.start}. */
export interface RoundTripInput {
  readonly runtime: Runtime;
  readonly cfg: ModelConfig;
  readonly weights: WeightReader;
  /** The single-process engine (its in-process MoE). */
  readonly engine: Engine;
}

/** One (rows, layer) call with its timings so far. */
interface Slot {
  readonly R: number;
  readonly layer: number;
  readonly call: LayerCall;
  readonly frames: EchoFrame[];
  readonly t: { cluster: number[]; local: number[]; raw: number[]; rawIn: number[] };
  wire: number;
}

/** One dispatch + combine per layer, for 1 and 16 rows: cluster, in process, raw ZeroMQ across processes and in process. */
export class RoundTripRig {
  private constructor(
    private readonly o: RoundTripInput,
    private readonly router: RouterCore,
    private readonly transport: ZmqExpertTransport,
    private readonly children: EchoChildren,
    private readonly inProc: EchoServer[],
    private readonly raw: EchoClient,
    private readonly rawIn: EchoClient,
    private readonly slots: Slot[],
  ) {}

  /** A router of its own to the cluster's expert hosts, echo processes and sockets; 3 untimed calls of each kind per slot. */
  static async start(o: RoundTripInput): Promise<RoundTripRig> {
    const { runtime, cfg } = o;
    const where: CallPlacement = { experts: runtime.experts, hosts: Object.keys(runtime.expertHosts) };
    const placement = new Map(runtime.experts.map((x) => [placementKey(x.layer, x.expert), [...x.hosts]]));
    const replicaWeights = new Map(runtime.experts.flatMap((x) => (x.weights ? [[placementKey(x.layer, x.expert), [...x.weights]] as const] : [])));
    const routers = new Map(Array.from({ length: cfg.nLayers }, (_, l) => [l, routerWeights(o.weights, cfg, l).router] as const));
    const transport = new ZmqExpertTransport({ hosts: new Map(Object.entries(runtime.expertHosts)), dModel: cfg.dModel, name: "bench-router", wireDtype: runtime.wireDtype });
    const router = new RouterCore(cfg, routers, placement, transport, { dispatchTimeoutMs: 10_000, replicaWeights });
    const children = await EchoChildren.start(where.hosts.length);
    const inProc = await Promise.all(where.hosts.map(() => EchoServer.bind()));
    const slots: Slot[] = ROWS.flatMap((R) =>
      Array.from({ length: cfg.nLayers }, (_, layer) => {
        const call = layerCall(cfg, routers.get(layer)!, layer, R, where, runtime.wireDtype, 7 + layer * 31 + R);
        return { R, layer, call, frames: echoFrames(call), t: { cluster: [], local: [], raw: [], rawIn: [] }, wire: 0 };
      }),
    );
    const rig = new RoundTripRig(o, router, transport, children, inProc, EchoClient.connect(children.endpoints), EchoClient.connect(inProc.map((s) => s.endpoint)), slots);
    for (const s of slots) for (let w = 0; w < 3; w++) await rig.once(s, false);
    return rig;
  }

  /** One call of each kind for slot `s`, interleaved; recorded when `record`. */
  private async once(s: Slot, record: boolean): Promise<void> {
    const c = s.call;
    const cluster = await timed(() => this.router.moe(s.layer, c.m, c.seq, c.pos, deadlineIn(10_000)));
    const raw = await this.raw.call(s.frames);
    const rawIn = await this.rawIn.call(s.frames);
    const local = await timed(() => this.o.engine.moe.run(s.layer, c.m));
    if (!record) return;
    s.t.cluster.push(cluster);
    s.t.raw.push(raw);
    s.t.rawIn.push(rawIn);
    s.t.local.push(local);
  }

  /** `calls` timed calls of every kind for every row count and layer. */
  async sample(calls: number): Promise<void> {
    for (const s of this.slots) {
      const before = totals(this.transport);
      for (let i = 0; i < calls; i++) await this.once(s, true);
      s.wire += totals(this.transport) - before;
    }
  }

  /** Timed calls per (rows, layer) so far. */
  get calls(): number {
    return this.slots[0]!.t.cluster.length;
  }

  /** The figures of every call sampled so far: per row count, medians over the layers and each layer. */
  rows(): RoundTripRow[] {
    const { cfg } = this.o;
    return ROWS.map((R) => {
      const mine = this.slots.filter((s) => s.R === R);
      const layers: RoundTripLayer[] = mine.map((s) => {
        const b = callBytes(s.call);
        return {
          layer: s.layer,
          messages: s.call.dispatches.length,
          hosts: new Set(s.call.dispatches.map((d) => d.host)).size,
          bytesOut: b.out,
          bytesBack: b.back,
          clusterMs: median(s.t.cluster),
          clusterMeanMs: s.t.cluster.reduce((a, x) => a + x, 0) / s.t.cluster.length,
          inProcessMs: median(s.t.local),
          rawMs: median(s.t.raw),
          rawInProcessMs: median(s.t.rawIn),
        };
      });
      const med = (k: keyof RoundTripLayer) => median(layers.map((l) => l[k]));
      const calls = mine.reduce((a, s) => a + s.t.cluster.length, 0);
      return {
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
        wireBytesPerToken: mine.reduce((a, s) => a + s.wire, 0) / (calls * R),
        payloadBytesPerToken: cfg.nExpertsUsed * cfg.dModel * 4 * 2,
        layers,
      };
    });
  }

  async close(): Promise<void> {
    this.raw.close();
    this.rawIn.close();
    await this.transport.close();
    await Promise.all(this.inProc.map((s) => s.close()));
    await this.children.close();
  }
}

/**
 * The pipeline's own messages without compute: `seq.release` of sequences no
 * stage holds, sent by the pipeline client to every stage at once, each
 * answering (protocol v2): 2 × stages messages, 2 of them one after the
 * other. A step's own path is `stage.input` → the stage hops' `stage.forward`
 * → `stage.tokens` back: stages + 1 one-way messages in a row, each of the
 * same software cost (encode, send, wake-up, decode) as one of these.
 */
export class PipelineSampler {
  private readonly t: number[] = [];
  private next = 4_000_000_100;

  private constructor(
    private readonly backend: StepBackend,
    private readonly stages: number,
  ) {}

  /** Three untimed releases first. */
  static async start(backend: StepBackend, stages: number): Promise<PipelineSampler> {
    for (let i = 0; i < 3; i++) await backend.release([4_000_000_000 + i]);
    return new PipelineSampler(backend, stages);
  }

  /** `calls` timed round trips. */
  async sample(calls: number): Promise<void> {
    for (let i = 0; i < calls; i++) this.t.push(await timed(() => this.backend.release([this.next++])));
  }

  /** The figures of every round trip so far. */
  result(): PipelineRoundTrip {
    return { roundTripMs: median(this.t), meanMs: this.t.reduce((a, x) => a + x, 0) / this.t.length, messages: 2 * this.stages, sequential: 2 };
  }
}
