/**
 * What limits decode in a prediction, and why: one host's work, the CPU cores
 * that hosts at one address share, or the per-token latency's largest part.
 */
import type { HostSpec } from "./cluster.js";
import type { CostOptions } from "./cost-options.js";
import type { Bottleneck, Placement } from "./predict.js";

/** One decode step of a micro-batch, as predict.ts sums it up (seconds). */
export interface StepResult {
  latency: number;
  /** Per host (process): compute + its share of message software, seconds per micro-batch. */
  busy: number[];
  stageBusy: number[];
  busyMem: number[];
  busyNet: number[];
  /** Software time of messages handled by the gateway process (not a host's busy time). */
  gatewayCpu: number;
  stage: number;
  head: number;
  expert: number;
  network: number;
  software: number;
  credit: number[];
}

/** Hosts (processes) sharing one machine: the same `address`. */
export interface Machine {
  readonly address: string;
  readonly hosts: readonly number[];
  /** Hosts of the machine that the placement uses (stage, expert or gateway). */
  readonly processes: number;
  readonly gateway: boolean;
}

/** CPU demand of the busiest machine in a step. */
export interface MachineLoad {
  readonly machine: Machine;
  /** CPU seconds of all its processes per micro-batch step. */
  readonly cpuSeconds: number;
}

/** Machines with more than one used host, when cores are modelled. */
export function machinesOf(hosts: readonly HostSpec[], placement: Placement, opts: CostOptions): Machine[] {
  if (!(opts.machineCores > 0)) return [];
  const used = new Set<number>([...placement.stages.map((s) => s.host), ...placement.experts.flatMap((x) => x.hosts), ...(placement.gateway !== null ? [placement.gateway] : [])]);
  const by = new Map<string, number[]>();
  hosts.forEach((h, i) => {
    if (h.address !== undefined && used.has(i)) (by.get(h.address) ?? by.set(h.address, []).get(h.address)!).push(i);
  });
  return [...by].map(([address, hs]) => {
    const gateway = placement.gateway !== null && hs.includes(placement.gateway);
    return { address, hosts: hs, processes: hs.length + (gateway ? 1 : 0), gateway };
  });
}

export function busiestMachine(machines: readonly Machine[], r: StepResult, opts: CostOptions): MachineLoad | null {
  let best: MachineLoad | null = null;
  for (const m of machines) {
    if (m.processes <= opts.machineCores) continue;
    const cpuSeconds = m.hosts.reduce((a, h) => a + r.busy[h]!, 0) + (m.gateway ? r.gatewayCpu : 0);
    if (!best || cpuSeconds > best.cpuSeconds) best = { machine: m, cpuSeconds };
  }
  return best;
}

export function machineBottleneck(m: MachineLoad, M: number, b: number, step: number, opts: CostOptions): Bottleneck {
  return {
    kind: "machine",
    host: null,
    resource: "cpu",
    reason: `${m.machine.processes} processes at ${m.machine.address} share ${opts.machineCores} cores: they need ${ms(m.cpuSeconds)} of CPU per micro-batch of ${b}; with ${M} micro-batches in flight a step takes ${ms(step)}`,
  };
}

export function argmax(xs: readonly number[]): number {
  let best = 0;
  xs.forEach((x, i) => {
    if (x > xs[best]!) best = i;
  });
  return best;
}

const ms = (s: number) => `${(s * 1e3).toFixed(s < 0.01 ? 2 : 1)} ms`;
const pct = (a: number, b: number) => `${Math.round((100 * a) / b)}%`;

export function hostBottleneck(h: HostSpec, r: StepResult, i: number, M: number, b: number, step: number): Bottleneck {
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

export function latencyBottleneck(hosts: readonly HostSpec[], r: StepResult, slots: readonly number[], b: number): Bottleneck {
  const total = r.latency;
  const per = b === 1 ? "per token" : `per decode step of ${b} sequences`;
  const parts: [Bottleneck["kind"], number][] = [
    ["experts", r.expert],
    ["stages", r.stage + r.head],
    ["network", r.network],
    ["software", r.software],
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
  if (kind === "software")
    return {
      kind,
      host: null,
      resource: "latency",
      reason: `the messages' software (encode, send, wake-up, decode) takes ${pct(t, total)} of the ${ms(total)} ${per}: two per expert host (or touched expert) per layer, and stages + 1 per step through the pipeline (the step to stage 0, one per stage hop, the tokens from the last stage); fewer, larger messages or co-located experts help`,
    };
  return {
    kind,
    host: null,
    resource: "latency",
    reason: `messages take ${pct(t, total)} of the ${ms(total)} ${per}: two per layer to the expert hosts plus one per stage hop; lower latency or co-locate experts with stages`,
  };
}
