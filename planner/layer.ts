/**
 * The expert phase of one layer: for every expert host holding replicas of
 * the layer, the expected work and messages, and the expected time until the
 * slowest touched host has answered (E[max], see {@link expectedLayerTime}).
 * Shared by the predictions (predict.ts) and the calibration (calibrate.ts).
 */
import type { HostSpec } from "./cluster.js";
import { expertTouchTime, type ModelCosts } from "./cost.js";
import type { CostOptions } from "./cost-options.js";
import { messageSoftware, messageTime } from "./message-cost.js";
import { expectedBusy, expectedLayerTime, touchProbability, type HostLayerWork } from "./sparsity.js";

/** One host's share of a layer's expert phase. */
export interface HostPhase {
  readonly host: number;
  /** Expected busy seconds of its experts (weights, FLOPs, session runs), messages excluded. */
  readonly busy: number;
  /** Expected weight-read seconds. */
  readonly memory: number;
  /** Expected software seconds of its own ends of its messages (receive the dispatch, send the result). */
  readonly software: number;
  /** Expected bytes on its link, both directions. */
  readonly wireBytes: number;
  /** Expected time until it has answered (for crediting the layer to a host). */
  readonly time: number;
}

/** A layer's expert phase. */
export interface LayerPhase {
  /** Expected seconds of the phase: router's message ends + experts + wire + hosts' message ends. */
  readonly seconds: number;
  /** The same without message software. */
  readonly wireSeconds: number;
  /** The same without any message. */
  readonly expertSeconds: number;
  /** Expected software seconds of the router's ends of the messages (one thread: they add up). */
  readonly routerSoftware: number;
  readonly hosts: readonly HostPhase[];
}

/**
 * The expert phase of one layer whose router runs on `stageHost`. Each message costs
 * {@link messageSoftware} split between its two ends: an expert host's ends (decode the
 * dispatch, encode the result) delay its answer; the router's ends of all the layer's
 * messages (encode every dispatch, decode every result) run one after another on its
 * thread and add to the phase.
 * @param replicas host → routing shares of the replicas it holds for this layer (fraction of rows)
 * @param rows rows through the layer (the micro-batch)
 */
export function layerPhase(mc: ModelCosts, hosts: readonly HostSpec[], stageHost: number, replicas: ReadonlyMap<number, readonly number[]>, rows: number, opts: CostOptions): LayerPhase {
  const works: HostLayerWork[] = [];
  const plain: HostLayerWork[] = [];
  const out: HostPhase[] = [];
  let routerSoftware = 0;
  for (const [h, hs] of [...replicas.entries()].sort((a, c) => a[0] - c[0])) {
    const host = hosts[h]!;
    const remote = h !== stageHost;
    const perExpert = remote && opts.dispatchPer === "expert";
    const reps = hs.map((p) => {
      const touch = touchProbability(p, rows);
      const n = touch > 0 ? (rows * p) / touch : 0;
      const t = expertTouchTime(mc, host, n, opts);
      // one dispatch and one result per touched replica: half of each is this host's end
      const sw = perExpert ? messageSoftware(n * mc.rowBytes + opts.messageOverheadBytes, opts) : 0;
      return { touch, busy: t.busy, memory: t.memory, compute: t.compute, sw };
    });
    const anyTouched = 1 - reps.reduce((a, x) => a * (1 - x.touch), 1);
    const hostRows = anyTouched > 0 ? (rows * hs.reduce((a, p) => a + p, 0)) / anyTouched : 0;
    const payload = hostRows * mc.rowBytes + opts.messageOverheadBytes;
    const wire = 2 * messageTime(hosts[stageHost]!, host, payload);
    // one dispatch and one result per touched host
    const hostSw = remote && opts.dispatchPer === "host" ? messageSoftware(payload, opts) : 0;
    const p: HostLayerWork = { replicas: reps.map((x) => ({ touch: x.touch, busy: x.busy, memory: x.memory, compute: x.compute })), network: wire };
    const w: HostLayerWork = { replicas: reps.map((x) => ({ touch: x.touch, busy: x.busy + x.sw, memory: x.memory, compute: x.compute })), network: wire + hostSw };
    const software = reps.reduce((a, x) => a + x.touch * x.sw, 0) + anyTouched * hostSw;
    routerSoftware += software;
    plain.push(p);
    works.push(w);
    out.push({ host: h, busy: expectedBusy(p), memory: reps.reduce((a, x) => a + x.touch * x.memory, 0), software, wireBytes: remote ? anyTouched * 2 * payload : 0, time: expectedBusy(w) + w.network * anyTouched });
  }
  return { seconds: routerSoftware + expectedLayerTime(works, true), wireSeconds: expectedLayerTime(plain, true), expertSeconds: expectedLayerTime(plain, false), routerSoftware, hosts: out };
}

/** Replicas of each layer by host: `[layer]` → host → routing shares (share × replica weight). */
export function replicasByLayer(nLayers: number, experts: readonly { readonly layer: number; readonly expert: number; readonly hosts: readonly number[]; readonly weights: readonly number[] }[], shares: readonly (readonly number[])[]): Map<number, number[]>[] {
  const perLayer: Map<number, number[]>[] = Array.from({ length: nLayers }, () => new Map());
  for (const x of experts)
    x.hosts.forEach((h, k) => {
      const m = perLayer[x.layer]!;
      if (!m.has(h)) m.set(h, []);
      m.get(h)!.push(shares[x.layer]![x.expert]! * x.weights[k]!);
    });
  return perLayer;
}
