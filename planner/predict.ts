/**
 * Predictions for a placement: memory per host, decode latency and
 * throughput, time to first token, KV capacity and the bottleneck. Used for
 * the planner's own placement, for explicit placements and for the
 * baselines of `moe plan --compare`, so all are judged by the same model.
 */
import type { HostSpec } from "./cluster.js";
import {
  DEFAULT_COST_OPTIONS,
  decodeWork,
  expectedBusy,
  expectedLayerTime,
  expertTouchTime,
  messageTime,
  reserveBytes,
  stageKvBytes,
  stageTime,
  stageWeightBytes,
  touchProbability,
  usableBytes,
  type CostOptions,
  type HostLayerWork,
  type ModelCosts,
  type StageWork,
  type Workload,
} from "./cost.js";
import type { ExpertSlot } from "./experts.js";

/** A placement by host index. */
export interface Placement {
  /** Pipeline order; layers [first, end). */
  readonly stages: readonly { readonly host: number; readonly first: number; readonly end: number }[];
  readonly experts: readonly ExpertSlot[];
  /** Router host per stage. */
  readonly routers: readonly number[];
  readonly gateway: number | null;
}

/** Memory of one host, bytes. */
export interface HostMemory {
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly freeBytes: number;
  readonly weightsBytes: number;
  readonly kvBytes: number;
  readonly activationBytes: number;
  /** Runtime reserve + headroom. */
  readonly reserveBytes: number;
}

/** What limits decode, and why. */
export interface Bottleneck {
  /** "experts": waiting for the slowest expert host of each layer; "stages": attention/KV/unembedding; "network": messages; "host": one host's total work at this concurrency. */
  readonly kind: "experts" | "stages" | "network" | "host";
  readonly host: string | null;
  readonly resource: "memory-bandwidth" | "compute" | "network" | "latency";
  readonly reason: string;
}

/** Decode time per token split by where it goes, seconds (one sequence). */
export interface Breakdown {
  readonly stageSeconds: number;
  readonly headSeconds: number;
  readonly expertSeconds: number;
  readonly networkSeconds: number;
}

/** Everything predicted for a placement. */
export interface Evaluation {
  readonly fits: boolean;
  readonly memory: readonly HostMemory[];
  readonly expertSlots: readonly number[];
  /** Predicted busy seconds per token at concurrency 1, per host. */
  readonly busySecondsPerToken: readonly number[];
  /** Latency of one decode step for one sequence, seconds. */
  readonly decodeSecondsPerToken: number;
  /** Seconds between two tokens of a sequence at the workload's concurrency. */
  readonly stepSeconds: number;
  readonly microBatches: number;
  readonly microBatchSize: number;
  readonly decodeTokensPerSecond: number;
  readonly decodeTokensPerSecondAggregate: number;
  readonly ttftSeconds: number;
  readonly kvCapacityTokens: number;
  readonly maxConcurrentSequences: number;
  readonly breakdown: Breakdown;
  readonly bottleneck: Bottleneck;
}

interface StepResult {
  latency: number;
  busy: number[];
  stageBusy: number[];
  busyMem: number[];
  busyNet: number[];
  stage: number;
  head: number;
  expert: number;
  network: number;
  credit: number[];
}

/** Evaluate `placement` (host indices into `hosts`) for `workload`. `shares[l][e]`: routing shares. */
export function evaluatePlacement(
  mc: ModelCosts,
  hosts: readonly HostSpec[],
  placement: Placement,
  workload: Workload,
  shares: readonly (readonly number[])[],
  opts: CostOptions = DEFAULT_COST_OPTIONS,
): Evaluation {
  const H = hosts.length;
  const L = mc.cfg.nLayers;
  const S = placement.stages.length;
  const stageOfLayer = new Array<number>(L).fill(-1);
  placement.stages.forEach((s, i) => {
    for (let l = s.first; l < s.end; l++) stageOfLayer[l] = i;
  });
  // replicas per layer per host: [layer][host] -> share of tokens
  const perLayer: Map<number, number[]>[] = Array.from({ length: L }, () => new Map());
  const slots = new Array<number>(H).fill(0);
  for (const x of placement.experts) {
    x.hosts.forEach((h, k) => {
      const m = perLayer[x.layer]!;
      if (!m.has(h)) m.set(h, []);
      m.get(h)!.push(shares[x.layer]![x.expert]! * x.weights[k]!);
      slots[h] = slots[h]! + 1;
    });
  }
  const memory = memoryOf(mc, hosts, placement, slots, workload, opts);
  const covered = placement.experts.length === L * mc.cfg.nExperts && stageOfLayer.every((s) => s >= 0);
  const fits = covered && memory.every((m, h) => m.usedBytes - m.reserveBytes <= usableBytes(hosts[h]!, opts) + 1e-6);

  const step = (b: number, work: (s: number) => StageWork, expertRows: number): StepResult => {
    const r: StepResult = { latency: 0, busy: new Array(H).fill(0), stageBusy: new Array(H).fill(0), busyMem: new Array(H).fill(0), busyNet: new Array(H).fill(0), stage: 0, head: 0, expert: 0, network: 0, credit: new Array(H).fill(0) };
    placement.stages.forEach((s, i) => {
      const h = hosts[s.host]!;
      const role = { first: i === 0, last: i === S - 1 };
      const t = stageTime(mc, h, s.end - s.first, role, work(i), opts);
      const noHead = role.last ? stageTime(mc, h, s.end - s.first, { first: role.first, last: false }, work(i), opts) : t;
      r.latency += t.busy + t.network;
      r.stage += noHead.busy;
      r.head += t.busy - noHead.busy;
      r.network += t.network;
      r.busy[s.host] += t.busy;
      r.stageBusy[s.host] += t.busy;
      r.busyMem[s.host] += t.memory;
      if (!role.last) r.busyNet[s.host] += (b * mc.rowBytes + opts.messageOverheadBytes) / h.network.bandwidth;
    });
    for (let l = 0; l < L; l++) {
      const stageHost = placement.stages[stageOfLayer[l]!]!.host;
      const works: HostLayerWork[] = [];
      const owners: number[] = [];
      for (const [h, hs] of [...perLayer[l]!.entries()].sort((a, c) => a[0] - c[0])) {
        const host = hosts[h]!;
        const reps = hs.map((p) => {
          const touch = touchProbability(p, expertRows);
          const t = expertTouchTime(mc, host, touch > 0 ? (expertRows * p) / touch : 0, opts);
          return { touch, busy: t.busy, memory: t.memory, compute: t.compute };
        });
        const anyTouched = 1 - reps.reduce((a, x) => a * (1 - x.touch), 1);
        const rows = anyTouched > 0 ? (expertRows * hs.reduce((a, p) => a + p, 0)) / anyTouched : 0;
        const payload = rows * mc.rowBytes + opts.messageOverheadBytes;
        const network = 2 * messageTime(hosts[stageHost]!, host, payload);
        const w = { replicas: reps, network };
        works.push(w);
        owners.push(h);
        r.busy[h] += expectedBusy(w);
        r.busyMem[h] += reps.reduce((a, x) => a + x.touch * x.memory, 0);
        if (h !== stageHost) {
          const netBusy = (anyTouched * 2 * payload) / host.network.bandwidth;
          r.busyNet[h] += netBusy;
          r.busyNet[stageHost] += netBusy;
        }
      }
      const withNet = expectedLayerTime(works, true);
      const without = expectedLayerTime(works, false);
      r.latency += withNet;
      r.expert += without;
      r.network += withNet - without;
      // Credit the layer's time to the host(s) with the largest expected time (ties share it).
      const times = works.map((w) => expectedBusy(w) + w.network * (1 - w.replicas.reduce((a, x) => a * (1 - x.touch), 1)));
      const topT = Math.max(0, ...times);
      const tops = owners.filter((_, k) => times[k]! >= topT * (1 - 1e-9));
      for (const h of tops) r.credit[h] += withNet / tops.length;
    }
    return r;
  };

  const ctx = workload.context;
  const one = step(1, () => decodeWork(1, ctx), 1);
  // Micro-batches: try every split of the sequences into M ≤ stages micro-batches and keep the fastest step.
  let best: { M: number; b: number; r: StepResult; per: number[]; worst: number; period: number } | null = null;
  const seen = new Set<number>();
  for (let m = 1; m <= Math.max(1, Math.min(workload.concurrency, S)); m++) {
    const bb = Math.ceil(workload.concurrency / m);
    if (seen.has(bb)) continue;
    seen.add(bb);
    const MM = Math.ceil(workload.concurrency / bb);
    const r = bb === 1 ? one : step(bb, () => decodeWork(bb, ctx), bb);
    const per = r.busy.map((x, h) => Math.max(x, r.busyNet[h]!));
    const worst = argmax(per);
    const period = Math.max(r.latency, MM * per[worst]!);
    if (!best || period < best.period * (1 - 1e-9)) best = { M: MM, b: bb, r, per, worst, period };
  }
  const { M, b, r: many, per: perHostStep, worst, period: stepSeconds } = best!;
  const ttftSeconds = prefillSeconds(step, workload, opts);
  const kvCapacityTokens = kvCapacity(mc, hosts, placement, memory, opts);
  const bottleneck =
    M * perHostStep[worst]! > many.latency
      ? hostBottleneck(hosts[worst]!, many, worst, M, b, stepSeconds)
      : latencyBottleneck(hosts, many, slots, b);
  return {
    fits,
    memory,
    expertSlots: slots,
    busySecondsPerToken: one.busy,
    decodeSecondsPerToken: one.latency,
    stepSeconds,
    microBatches: M,
    microBatchSize: b,
    decodeTokensPerSecond: 1 / stepSeconds,
    decodeTokensPerSecondAggregate: workload.concurrency / stepSeconds,
    ttftSeconds,
    kvCapacityTokens,
    maxConcurrentSequences: Math.floor(kvCapacityTokens / workload.context),
    breakdown: { stageSeconds: one.stage, headSeconds: one.head, expertSeconds: one.expert, networkSeconds: one.network },
    bottleneck,
  };
}

function memoryOf(mc: ModelCosts, hosts: readonly HostSpec[], placement: Placement, slots: readonly number[], workload: Workload, opts: CostOptions): HostMemory[] {
  const weights = slots.map((n) => n * mc.expertBytes);
  const kv = new Array<number>(hosts.length).fill(0);
  const act = slots.map((n) => (n > 0 ? mc.expertActivationBytes : 0));
  const S = placement.stages.length;
  placement.stages.forEach((s, i) => {
    const n = s.end - s.first;
    weights[s.host] = weights[s.host]! + stageWeightBytes(mc, n, { first: i === 0, last: i === S - 1 });
    kv[s.host] = kv[s.host]! + stageKvBytes(mc, n, workload.concurrency * workload.context);
    act[s.host] = act[s.host]! + mc.stageActivationBytes;
  });
  return hosts.map((h, i) => {
    const reserve = reserveBytes(h, opts);
    const used = weights[i]! + kv[i]! + act[i]! + reserve;
    return { capacityBytes: h.memoryBytes, usedBytes: used, freeBytes: h.memoryBytes - used, weightsBytes: weights[i]!, kvBytes: kv[i]!, activationBytes: act[i]!, reserveBytes: reserve };
  });
}

/** Tokens of KV cache the pipeline can hold: min over stage hosts of free-for-KV ÷ KV bytes per token of its layers. */
function kvCapacity(mc: ModelCosts, hosts: readonly HostSpec[], placement: Placement, memory: readonly HostMemory[], opts: CostOptions): number {
  const layersOn = new Map<number, number>();
  for (const s of placement.stages) layersOn.set(s.host, (layersOn.get(s.host) ?? 0) + s.end - s.first);
  let cap = Infinity;
  for (const [h, n] of layersOn) {
    const m = memory[h]!;
    const free = usableBytes(hosts[h]!, opts) - m.weightsBytes - m.activationBytes;
    cap = Math.min(cap, Math.max(0, Math.floor(free / (n * mc.kvBytesPerTokenLayer))));
  }
  return cap === Infinity ? 0 : cap;
}

/** Time to first token: the prompt in chunks through the whole pipeline, seconds. */
function prefillSeconds(step: (b: number, work: (s: number) => StageWork, rows: number) => StepResult, workload: Workload, opts: CostOptions): number {
  const P = Math.max(1, Math.min(workload.promptTokens, workload.context));
  let t = 0;
  for (let start = 0; start < P; start += opts.prefillChunk) {
    const m = Math.min(opts.prefillChunk, P - start);
    const last = start + m >= P;
    t += step(m, () => ({ tokens: m, ctx: start + (m + 1) / 2, kvTokensRead: start + m, headTokens: last ? 1 : 0 }), m).latency;
  }
  return t;
}

function argmax(xs: readonly number[]): number {
  let best = 0;
  xs.forEach((x, i) => {
    if (x > xs[best]!) best = i;
  });
  return best;
}

const ms = (s: number) => `${(s * 1e3).toFixed(s < 0.01 ? 2 : 1)} ms`;
const pct = (a: number, b: number) => `${Math.round((100 * a) / b)}%`;

function hostBottleneck(h: HostSpec, r: StepResult, i: number, M: number, b: number, step: number): Bottleneck {
  const net = r.busyNet[i]! > r.busy[i]!;
  const memBound = r.busyMem[i]! >= r.busy[i]! * 0.5;
  const resource = net ? "network" : memBound ? "memory-bandwidth" : "compute";
  const what = net ? `its network (${(h.network.bandwidth / 1e9).toFixed(1)} GB/s)` : memBound ? `reading weights and KV at ${(h.memoryBandwidth / 1e9).toFixed(0)} GB/s peak` : "compute";
  return {
    kind: "host",
    host: h.name,
    resource,
    reason: `${h.name} is busy ${ms(net ? r.busyNet[i]! : r.busy[i]!)} per micro-batch of ${b} (${what}); with ${M} micro-batches in flight a step takes ${ms(step)}, so this host sets the aggregate rate`,
  };
}

function latencyBottleneck(hosts: readonly HostSpec[], r: StepResult, slots: readonly number[], b: number): Bottleneck {
  const total = r.latency;
  const per = b === 1 ? "per token" : `per decode step of ${b} sequences`;
  const parts: [Bottleneck["kind"], number][] = [
    ["experts", r.expert],
    ["stages", r.stage + r.head],
    ["network", r.network],
  ];
  parts.sort((a, b) => b[1] - a[1]);
  const [kind, t] = parts[0]!;
  if (kind === "experts") {
    const h = argmax(r.credit);
    const host = hosts[h]!;
    const sharing = r.credit.filter((c) => c > 0).length;
    const creditSum = r.credit.reduce((a, c) => a + c, 0);
    const even = sharing > 1 && r.credit[h]! < (1.5 * creditSum) / sharing;
    const who = even
      ? `spread evenly over ${sharing} expert hosts (each reads whole experts at its memory bandwidth)`
      : `most often ${host.name} (${slots[h]} experts, ${(host.memoryBandwidth / 1e9).toFixed(0)} GB/s)`;
    return {
      kind,
      host: even ? null : host.name,
      resource: "memory-bandwidth",
      reason: `experts take ${pct(t, total)} of the ${ms(total)} ${per}: every layer waits for its slowest expert host, ${who}`,
    };
  }
  if (kind === "stages") {
    const h = argmax(r.stageBusy);
    return {
      kind,
      host: hosts[h]!.name,
      resource: "memory-bandwidth",
      reason: `attention, KV cache and unembedding take ${pct(t, total)} of the ${ms(total)} ${per} (unembedding alone ${ms(r.head)}); slowest stage ${hosts[h]!.name} (${ms(r.stageBusy[h]!)})`,
    };
  }
  return {
    kind,
    host: null,
    resource: "latency",
    reason: `messages take ${pct(t, total)} of the ${ms(total)} ${per}: two per layer to the expert hosts plus one per stage hop; lower latency or co-locate experts with stages`,
  };
}
