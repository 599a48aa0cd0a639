/**
 * Predictions for a placement: memory per host, decode latency and
 * throughput, time to first token, KV capacity and the bottleneck. Used for
 * the planner's own placement, for explicit placements and for the
 * baselines of `moe plan --compare`, so all are judged by the same model.
 */
import type { HostSpec } from "./cluster.js";
import { decodeWork, reserveBytes, stageKvBytes, stageTime, stageWeightBytes, usableBytes, type ModelCosts, type StageWork } from "./cost.js";
import { DEFAULT_COST_OPTIONS, type CostOptions, type Workload } from "./cost-options.js";
import { pipelineSoftware } from "./message-cost.js";
import { argmax, busiestMachine, hostBottleneck, latencyBottleneck, machineBottleneck, machinesOf, type MachineLoad, type StepResult } from "./bottleneck.js";
import { layerPhase, replicasByLayer } from "./layer.js";
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
  /**
   * "experts": waiting for the slowest expert host of each layer; "stages": attention/KV/unembedding;
   * "network": the messages' wire time; "software": the messages' software time; "host": one host's
   * total work at this concurrency; "machine": the CPU cores that several hosts share.
   */
  readonly kind: "experts" | "stages" | "network" | "software" | "host" | "machine";
  readonly host: string | null;
  readonly resource: "memory-bandwidth" | "compute" | "network" | "latency" | "cpu";
  readonly reason: string;
}

/** Decode time per token split by where it goes, seconds (one sequence). */
export interface Breakdown {
  readonly stageSeconds: number;
  readonly headSeconds: number;
  readonly expertSeconds: number;
  /** Wire time of the messages: latency + bytes ÷ bandwidth. */
  readonly networkSeconds: number;
  /** Software time of the messages: encode, send, wake-up, receive, decode. */
  readonly softwareSeconds: number;
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

/** Bytes of a small control message carrying `b` token ids (stage.input, stage.tokens). */
const tokenMessageBytes = (b: number, opts: CostOptions) => opts.messageOverheadBytes + 12 * b;

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
  const perLayer = replicasByLayer(L, placement.experts, shares);
  const slots = new Array<number>(H).fill(0);
  for (const x of placement.experts) for (const h of x.hosts) slots[h] = slots[h]! + 1;
  const memory = memoryOf(mc, hosts, placement, slots, workload, opts);
  const covered = placement.experts.length === L * mc.cfg.nExperts && stageOfLayer.every((s) => s >= 0);
  const fits = covered && memory.every((m, h) => m.usedBytes - m.reserveBytes <= usableBytes(hosts[h]!, opts) + 1e-6);

  const step = (b: number, work: (s: number) => StageWork, expertRows: number): StepResult => {
    const r: StepResult = { latency: 0, busy: new Array(H).fill(0), stageBusy: new Array(H).fill(0), busyMem: new Array(H).fill(0), busyNet: new Array(H).fill(0), gatewayCpu: 0, stage: 0, head: 0, expert: 0, network: 0, software: 0, credit: new Array(H).fill(0) };
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
      if (!role.last) {
        r.busyNet[s.host] += (b * mc.rowBytes + opts.messageOverheadBytes) / h.network.bandwidth;
        // the one-way stage.forward to the next stage (a process of its own even on the same host):
        // its software on the critical path, half of it on each end's CPU
        const next = placement.stages[i + 1]!.host;
        r.latency += t.software;
        r.software += t.software;
        r.busy[s.host] += t.software / 2;
        r.busy[next] += t.software / 2;
      }
    });
    if (placement.gateway !== null && S > 0) {
      // the client (the gateway, a process of its own) sends stage.input to stage 0 and gets stage.tokens
      // straight from the last stage: with the S − 1 hops above, pipelineMessages(S) = S + 1 per step
      // (no gateway: the steps start inside the stage process, as in the single-process engine)
      const sw = pipelineSoftware(tokenMessageBytes(b, opts), opts);
      const first = placement.stages[0]!.host;
      const last = placement.stages[S - 1]!.host;
      r.latency += 2 * sw;
      r.software += 2 * sw;
      r.gatewayCpu += sw;
      r.busy[first] += sw / 2;
      r.busy[last] += sw / 2;
    }
    for (let l = 0; l < L; l++) {
      const stageHost = placement.stages[stageOfLayer[l]!]!.host;
      const phase = layerPhase(mc, hosts, stageHost, perLayer[l]!, expertRows, opts);
      r.busy[stageHost] += phase.routerSoftware;
      for (const x of phase.hosts) {
        r.busy[x.host] += x.busy + x.software;
        r.busyMem[x.host] += x.memory;
        const netBusy = x.wireBytes / hosts[x.host]!.network.bandwidth;
        r.busyNet[x.host] += netBusy;
        r.busyNet[stageHost] += netBusy;
      }
      r.latency += phase.seconds;
      r.expert += phase.expertSeconds;
      r.network += phase.wireSeconds - phase.expertSeconds;
      r.software += phase.seconds - phase.wireSeconds;
      // Credit the layer's time to the host(s) with the largest expected time (ties share it).
      const topT = Math.max(0, ...phase.hosts.map((x) => x.time));
      const tops = phase.hosts.filter((x) => x.time >= topT * (1 - 1e-9));
      for (const x of tops) r.credit[x.host] += phase.seconds / tops.length;
    }
    return r;
  };

  const ctx = workload.context;
  const one = step(1, () => decodeWork(1, ctx), 1);
  const machines = machinesOf(hosts, placement, opts);
  // Micro-batches: try every split of the sequences into M ≤ stages micro-batches and keep the fastest step.
  let best: { M: number; b: number; r: StepResult; per: number[]; worst: number; period: number; machine: MachineLoad | null } | null = null;
  const seen = new Set<number>();
  for (let m = 1; m <= Math.max(1, Math.min(workload.concurrency, S)); m++) {
    const bb = Math.ceil(workload.concurrency / m);
    if (seen.has(bb)) continue;
    seen.add(bb);
    const MM = Math.ceil(workload.concurrency / bb);
    const r = bb === 1 ? one : step(bb, () => decodeWork(bb, ctx), bb);
    const per = r.busy.map((x, h) => Math.max(x, r.busyNet[h]!));
    const worst = argmax(per);
    const machine = busiestMachine(machines, r, opts);
    const period = Math.max(r.latency, MM * per[worst]!, machine ? (MM * machine.cpuSeconds) / opts.machineCores : 0);
    if (!best || period < best.period * (1 - 1e-9)) best = { M: MM, b: bb, r, per, worst, period, machine };
  }
  const { M, b, r: many, per: perHostStep, worst, period: stepSeconds, machine } = best!;
  const ttftSeconds = prefillSeconds(step, workload, opts);
  const kvCapacityTokens = kvCapacity(mc, hosts, placement, memory, opts);
  const machineStep = machine ? (M * machine.cpuSeconds) / opts.machineCores : 0;
  const bottleneck =
    machine && machineStep > many.latency && machineStep > M * perHostStep[worst]!
      ? machineBottleneck(machine, M, b, stepSeconds, opts)
      : M * perHostStep[worst]! > many.latency
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
    breakdown: { stageSeconds: one.stage, headSeconds: one.head, expertSeconds: one.expert, networkSeconds: one.network, softwareSeconds: one.software },
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
