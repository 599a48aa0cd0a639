/**
 * From a cluster to a {@link Placement}: the planner's own (layer partition,
 * then experts into what memory is left) or the cluster file's explicit one.
 */
import type { HostSpec, PlacementSpec } from "./cluster.js";
import { decodeWork, expertTouchTime, stageKvBytes, stageTime, stageWeightBytes, usableBytes, type ModelCosts } from "./cost.js";
import { DEFAULT_COST_OPTIONS, type CostOptions, type Workload } from "./cost-options.js";
import { PlacementError } from "./errors.js";
import { placeExperts, waterfill } from "./experts.js";
import { PARTITION_ROLES, partitionLayers, type PartitionHost, type PartitionProblem, type PartitionResult, type StageOption } from "./partition.js";
import { evaluatePlacement, type Evaluation, type Placement } from "./predict.js";

/** Result of {@link planPlacement}: a placement, or why none fits. */
export type PlacementOutcome = { readonly ok: true; readonly placement: Placement; readonly mode: "kv" | "slots" } | { readonly ok: false; readonly reason: string };

/** Micro-batch size the planner costs stages at: concurrency spread over the stage hosts. */
export function plannedMicroBatch(workload: Workload, stageHosts: number, layers: number): number {
  const M = Math.max(1, Math.min(workload.concurrency, stageHosts, layers));
  return Math.ceil(workload.concurrency / M);
}

/** Expert slots that fit on host `h` after `otherBytes` (and an expert workspace), never negative. */
function slotsAfter(mc: ModelCosts, h: HostSpec, otherBytes: number, opts: CostOptions): number {
  return Math.max(0, Math.floor((usableBytes(h, opts) - otherBytes - mc.expertActivationBytes) / mc.expertBytes));
}

/** Stage-side bytes of (n layers, role) on one host: weights + KV for the workload + activations. */
function stageBytes(mc: ModelCosts, n: number, role: number, workload: Workload): number {
  const r = { first: role === 1 || role === 3, last: role === 2 || role === 3 };
  return stageWeightBytes(mc, n, r) + stageKvBytes(mc, n, workload.concurrency * workload.context) + mc.stageActivationBytes;
}

function partitionHosts(mc: ModelCosts, hosts: readonly HostSpec[], stageIdx: readonly number[], workload: Workload, b: number, opts: CostOptions, limitOf: (h: number) => number, slotsOf: (h: number, rest: number) => number): PartitionHost[] {
  const L = mc.cfg.nLayers;
  return stageIdx.map((i) => {
    const h = hosts[i]!;
    const limit = limitOf(i);
    const options = PARTITION_ROLES.map((_, r) =>
      Array.from({ length: L + 1 }, (_, n): StageOption | null => {
        if (n === 0 || (r === 3 && n !== L)) return null;
        const need = stageBytes(mc, n, r, workload);
        if (need > limit) return null;
        const role = { first: r === 1 || r === 3, last: r === 2 || r === 3 };
        const t = stageTime(mc, h, n, role, decodeWork(b, workload.context), opts);
        const free = limit - need + stageKvBytes(mc, n, workload.concurrency * workload.context);
        return { cost: t.busy + t.network, kvTokens: Math.floor(free / (n * mc.kvBytesPerTokenLayer)), slots: slotsOf(i, limit - need) };
      }),
    );
    return { options, idleSlots: slotsOf(i, limit) };
  });
}

/** The two partition problems the planner may solve, and what they were built from. */
export interface PartitionSetup {
  /** Host indices allowed to be stages / expert hosts. */
  readonly stageIdx: readonly number[];
  readonly expertIdx: readonly number[];
  /** Per host (all hosts): expert speed, 1 / seconds per touched expert. */
  readonly speed: readonly number[];
  /** "kv" problem (stage memory after reserving each expert host's speed-proportional expert quota), or null if the experts alone do not fit. */
  readonly kv: PartitionProblem | null;
  /** "slots" problem (stages first, experts must fit in what is left). */
  readonly slots: PartitionProblem;
}

/** Build the layer-partition problems for a cluster (exported for tests and tools). */
export function partitionSetup(mc: ModelCosts, hosts: readonly HostSpec[], workload: Workload, opts: CostOptions = DEFAULT_COST_OPTIONS): PartitionSetup {
  const L = mc.cfg.nLayers;
  const E = mc.cfg.nExperts;
  const can = (role: HostSpec["roles"][number]) => hosts.flatMap((h, i) => (h.roles.includes(role) ? [i] : []));
  const stageIdx = can("stage");
  const expertIdx = can("expert");
  const b = plannedMicroBatch(workload, stageIdx.length, L);
  const rows = Math.max(1, (b * mc.cfg.nExpertsUsed) / E);
  const isExpert = new Set(expertIdx);
  const speed = hosts.map((h) => 1 / expertTouchTime(mc, h, rows, opts).busy);
  const fullSlots = hosts.map((h, i) => (isExpert.has(i) ? slotsAfter(mc, h, 0, opts) : 0));
  const quota = waterfill(expertIdx.map((i) => speed[i]!), expertIdx.map((i) => fullSlots[i]!), L * E);
  let kv: PartitionProblem | null = null;
  if (quota) {
    const q = new Map(expertIdx.map((i, k) => [i, quota[k]!]));
    const reserved = (i: number) => ((q.get(i) ?? 0) > 0 ? q.get(i)! * mc.expertBytes + mc.expertActivationBytes : 0);
    kv = { layers: L, hosts: partitionHosts(mc, hosts, stageIdx, workload, b, opts, (i) => usableBytes(hosts[i]!, opts) - reserved(i), () => 0), mode: "kv", requiredSlots: 0 };
  }
  const idleOthers = expertIdx.filter((i) => !stageIdx.includes(i)).reduce((a, i) => a + fullSlots[i]!, 0);
  const slotsOf = (i: number, rest: number) => (isExpert.has(i) ? Math.max(0, Math.floor((rest - mc.expertActivationBytes) / mc.expertBytes)) : 0);
  const slots: PartitionProblem = {
    layers: L,
    hosts: partitionHosts(mc, hosts, stageIdx, workload, b, opts, (i) => usableBytes(hosts[i]!, opts), slotsOf),
    mode: "slots",
    requiredSlots: Math.max(0, L * E - idleOthers),
  };
  return { stageIdx, expertIdx, speed, kv, slots };
}

/**
 * The planner: contiguous layers over stage hosts (DP), then experts balanced
 * by speed into the memory that is left, then routers and the gateway.
 */
export function planPlacement(mc: ModelCosts, hosts: readonly HostSpec[], workload: Workload, shares: readonly (readonly number[])[], replicasPerLayer: number, opts: CostOptions = DEFAULT_COST_OPTIONS): PlacementOutcome {
  const L = mc.cfg.nLayers;
  const E = mc.cfg.nExperts;
  if (!hosts.some((h) => h.roles.includes("stage"))) return { ok: false, reason: "no host allows role 'stage'" };
  if (!hosts.some((h) => h.roles.includes("expert"))) return { ok: false, reason: "no host allows role 'expert'" };
  if (!hosts.some((h) => h.roles.includes("router"))) return { ok: false, reason: "no host allows role 'router'" };
  const setup = partitionSetup(mc, hosts, workload, opts);
  const { stageIdx, expertIdx, speed } = setup;
  let mode: "kv" | "slots" = "kv";
  let part: PartitionResult | null = setup.kv ? partitionLayers(setup.kv) : null;
  if (!part) {
    mode = "slots";
    part = partitionLayers(setup.slots);
  }
  if (!part) return { ok: false, reason: setup.kv ? "the layers, their KV cache and the experts do not pack into the hosts' memory" : "the experts alone do not fit in the expert hosts' memory" };

  const stages = part.stages.map((s) => ({ host: stageIdx[s.host]!, first: s.first, end: s.end }));
  const stageUse = new Map<number, number>();
  stages.forEach((s, k) => {
    const role = k === 0 && k === stages.length - 1 ? 3 : k === 0 ? 1 : k === stages.length - 1 ? 2 : 0;
    stageUse.set(s.host, stageBytes(mc, s.end - s.first, role, workload));
  });
  const placed = placeExperts({
    layers: L,
    experts: E,
    shares,
    hosts: expertIdx.map((i) => ({ speed: speed[i]!, slots: slotsAfter(mc, hosts[i]!, stageUse.get(i) ?? 0, opts) })),
    replicasPerLayer,
  });
  if (!placed.ok) return { ok: false, reason: `the experts do not fit in the memory the stages leave (${placed.missingSlots} expert slots short)` };
  const experts = placed.experts.map((x) => ({ ...x, hosts: x.hosts.map((k) => expertIdx[k]!) }));
  return { ok: true, mode, placement: { stages, experts, routers: chooseRouters(hosts, stages), gateway: chooseGateway(hosts, stages) } };
}

/** Router per stage: co-located when the stage host allows it, else the least-used router host. */
function chooseRouters(hosts: readonly HostSpec[], stages: readonly { host: number }[]): number[] {
  const count = new Map<number, number>();
  return stages.map((s) => {
    let r = s.host;
    if (!hosts[s.host]!.roles.includes("router")) {
      r = -1;
      hosts.forEach((h, i) => {
        if (h.roles.includes("router") && (r < 0 || (count.get(i) ?? 0) < (count.get(r) ?? 0))) r = i;
      });
    }
    count.set(r, (count.get(r) ?? 0) + 1);
    return r;
  });
}

/** Gateway: the first stage's host when allowed, else the first host that allows it. */
function chooseGateway(hosts: readonly HostSpec[], stages: readonly { host: number }[]): number | null {
  const first = stages[0]?.host;
  if (first !== undefined && hosts[first]!.roles.includes("gateway")) return first;
  const i = hosts.findIndex((h) => h.roles.includes("gateway"));
  return i < 0 ? null : i;
}

/** Check and convert a cluster file's `placement:` (host names) to a {@link Placement}. */
export function explicitPlacement(spec: PlacementSpec, hosts: readonly HostSpec[], layers: number, experts: number, file: string): Placement {
  const index = new Map(hosts.map((h, i) => [h.name, i]));
  const fail = (field: string, msg: string, fix?: string): never => {
    throw new PlacementError(`${file}: placement.${field}: ${msg}`, { file, field: `placement.${field}`, fix });
  };
  const needRole = (field: string, name: string, role: HostSpec["roles"][number]) => {
    const i = index.get(name);
    if (i === undefined) return fail(field, `no host named '${name}'`);
    if (!hosts[i]!.roles.includes(role)) fail(field, `host '${name}' does not allow role '${role}'`, `add '${role}' to its roles`);
    return i;
  };
  let at = 0;
  const stages = spec.stages.map((s, k) => {
    const [a, e] = s.layers;
    if (a !== at || e <= a) fail(`stages[${k}].layers`, `[${a}, ${e}) does not continue the previous stage (expected [${at}, …) with end > start)`);
    at = e;
    return { host: needRole(`stages[${k}].host`, s.host, "stage"), first: a, end: e };
  });
  if (at !== layers) fail(`stages`, `cover layers [0, ${at}) but the model has ${layers}`);
  const seen = new Set<number>();
  const list = spec.experts.map((x, k) => {
    if (x.layer >= layers || x.expert >= experts) fail(`experts[${k}]`, `(layer ${x.layer}, expert ${x.expert}) is outside the model (${layers} × ${experts})`);
    const key = x.layer * experts + x.expert;
    if (seen.has(key)) fail(`experts[${k}]`, `(layer ${x.layer}, expert ${x.expert}) is listed twice; list its hosts once`);
    seen.add(key);
    const hs = x.hosts.map((n, j) => needRole(`experts[${k}].hosts[${j}]`, n, "expert"));
    if (new Set(hs).size !== hs.length) fail(`experts[${k}].hosts`, "a host is listed twice");
    if (x.weights && x.weights.length !== hs.length) fail(`experts[${k}].weights`, `has ${x.weights.length} weights for ${hs.length} hosts`);
    const w = x.weights ?? hs.map(() => 1);
    const sum = w.reduce((p, v) => p + v, 0);
    return { layer: x.layer, expert: x.expert, hosts: hs, weights: w.map((v) => v / sum) };
  });
  if (seen.size !== layers * experts) {
    let missing = 0;
    while (seen.has(missing)) missing++;
    fail("experts", `(layer ${Math.floor(missing / experts)}, expert ${missing % experts}) has no host; every (layer, expert) needs one`);
  }
  list.sort((p, q) => p.layer - q.layer || p.expert - q.expert);
  const routers = chooseRouters(hosts, stages);
  for (const [k, r] of (spec.routers ?? []).entries()) {
    if (r.stage >= stages.length) fail(`routers[${k}].stage`, `stage ${r.stage} does not exist (${stages.length} stages)`);
    routers[r.stage] = needRole(`routers[${k}].host`, r.host, "router");
  }
  return { stages, experts: list, routers, gateway: chooseGateway(hosts, stages) };
}

/** The best of several planner runs, with its evaluation. */
export interface SearchOutcome {
  readonly outcome: PlacementOutcome;
  readonly evaluation: Evaluation | null;
  /** Expert-eligible hosts the chosen plan leaves without experts because it is faster so. */
  readonly withoutExperts: readonly string[];
}

/**
 * Run the planner with every expert host, then without the slowest speed
 * classes of expert hosts (up to `maxDropped` classes, while the others can
 * still hold every expert), and keep the plan with the shortest predicted
 * decode step at the workload's concurrency (ties: fewer hosts left out).
 * A slow host holding a few experts can set the pace of every layer it is in.
 */
export function searchPlacement(mc: ModelCosts, hosts: readonly HostSpec[], workload: Workload, shares: readonly (readonly number[])[], replicasPerLayer: number, opts: CostOptions = DEFAULT_COST_OPTIONS, maxDropped = 3): SearchOutcome {
  const rows = Math.max(1, mc.cfg.nExpertsUsed / mc.cfg.nExperts);
  const expertIdx = hosts.flatMap((h, i) => (h.roles.includes("expert") ? [i] : []));
  const speed = (i: number) => 1 / expertTouchTime(mc, hosts[i]!, rows, opts).busy;
  const classes = [...new Set(expertIdx.map(speed))].sort((a, b) => a - b);
  let best: SearchOutcome | null = null;
  for (let k = 0; k <= Math.min(maxDropped, classes.length - 1); k++) {
    const dropped = new Set(expertIdx.filter((i) => k > 0 && speed(i) <= classes[k - 1]!));
    if (k > 0) {
      const slots = expertIdx.filter((i) => !dropped.has(i)).reduce((a, i) => a + slotsAfter(mc, hosts[i]!, 0, opts), 0);
      if (slots < mc.cfg.nLayers * mc.cfg.nExperts) break;
    }
    const view = hosts.map((h, i) => (dropped.has(i) ? { ...h, roles: h.roles.filter((r) => r !== "expert") } : h));
    const outcome = planPlacement(mc, view, workload, shares, replicasPerLayer, opts);
    const evaluation = outcome.ok ? evaluatePlacement(mc, hosts, outcome.placement, workload, shares, opts) : null;
    const cand = { outcome, evaluation, withoutExperts: [...dropped].map((i) => hosts[i]!.name) };
    if (!best || (evaluation && (!best.evaluation || evaluation.stepSeconds < best.evaluation.stepSeconds * (1 - 1e-9)))) best = cand;
  }
  return best!;
}
