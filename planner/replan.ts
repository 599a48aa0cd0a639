/**
 * Re-placement after hosts are lost (dynamic mode), pure and deterministic:
 * keep everything the survivors hold — stages, routers, every surviving
 * replica — and give each expert left without a host to the surviving
 * expert host with the least expert work per unit of memory bandwidth that
 * has room for it. A lost stage or router host cannot be patched this way
 * (its layers and KV caches are gone): the result is then `null` and the
 * caller plans afresh over the survivors. The result is an explicit
 * placement: `makePlan` evaluates it like any `placement:` of a cluster file.
 */
import type { HostSpec, PlacementSpec } from "./cluster.js";

/** The placement part of a plan (plan.json's `stages`, `routers`, `experts`). */
export interface PlacedPlan {
  readonly stages: readonly { readonly host: string; readonly layers: readonly [number, number] }[];
  readonly routers: readonly { readonly stage: number; readonly host: string }[];
  readonly experts: readonly { readonly layer: number; readonly expert: number; readonly hosts: readonly string[]; readonly weights?: readonly number[] }[];
}

/** What {@link placeWithoutLost} decided. */
export interface Replacement {
  readonly placement: PlacementSpec;
  /** Experts that lost every replica, with the host that takes each. */
  readonly moved: readonly { readonly layer: number; readonly expert: number; readonly host: string }[];
  /** Experts that lost some replicas but kept at least one. */
  readonly thinned: number;
}

/** A lost host is still needed and no survivor can take its part. */
export interface ReplacementFailure {
  readonly reason: string;
}

/**
 * @param survivors hosts still alive (any of them may take orphaned experts if its roles allow `expert`)
 * @param expertBytes bytes one (layer, expert) FFN takes in memory
 * @param freeBytes bytes a survivor has free under the current plan
 * @returns the new placement; `null` when a stage or router host was lost; a failure when orphans do not fit
 */
export function placeWithoutLost(
  plan: PlacedPlan,
  lost: ReadonlySet<string>,
  survivors: readonly HostSpec[],
  expertBytes: number,
  freeBytes: (host: string) => number,
): Replacement | ReplacementFailure | null {
  if (plan.stages.some((s) => lost.has(s.host)) || plan.routers.some((r) => lost.has(r.host))) return null;
  const candidates = survivors.filter((h) => h.roles.includes("expert")).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const slots = new Map(candidates.map((h) => [h.name, 0]));
  for (const x of plan.experts) for (const h of x.hosts) if (slots.has(h)) slots.set(h, slots.get(h)! + 1);
  const free = new Map(candidates.map((h) => [h.name, freeBytes(h.name)]));
  const moved: { layer: number; expert: number; host: string }[] = [];
  let thinned = 0;
  const experts: PlacementSpec["experts"][number][] = [];
  for (const x of plan.experts) {
    const keep = x.hosts.map((h, i) => ({ h, w: x.weights?.[i] })).filter((r) => !lost.has(r.h));
    if (keep.length === x.hosts.length) {
      experts.push(copy(x));
      continue;
    }
    if (keep.length > 0) {
      thinned++;
      const weights = keep.every((r) => r.w !== undefined) && keep.length > 1 ? { weights: keep.map((r) => r.w!) } : {};
      experts.push({ layer: x.layer, expert: x.expert, hosts: keep.map((r) => r.h), ...weights });
      continue;
    }
    // least expert work per byte/s of memory bandwidth, with room for one more expert; ties by name
    let best: HostSpec | undefined;
    let bestCost = Infinity;
    for (const h of candidates) {
      if (free.get(h.name)! < expertBytes) continue;
      const cost = (slots.get(h.name)! + 1) / h.memoryBandwidth;
      if (cost < bestCost) (best = h), (bestCost = cost);
    }
    if (!best)
      return { reason: `expert ${x.expert} of layer ${x.layer} lost its hosts (${x.hosts.join(", ")}) and no surviving expert host has ${expertBytes} bytes free for it` };
    slots.set(best.name, slots.get(best.name)! + 1);
    free.set(best.name, free.get(best.name)! - expertBytes);
    moved.push({ layer: x.layer, expert: x.expert, host: best.name });
    experts.push({ layer: x.layer, expert: x.expert, hosts: [best.name] });
  }
  return {
    placement: {
      stages: plan.stages.map((s) => ({ host: s.host, layers: [s.layers[0], s.layers[1]] as const })),
      routers: plan.routers.map((r) => ({ stage: r.stage, host: r.host })),
      experts,
    },
    moved,
    thinned,
  };
}

function copy(x: PlacedPlan["experts"][number]): PlacementSpec["experts"][number] {
  return { layer: x.layer, expert: x.expert, hosts: [...x.hosts], ...(x.weights ? { weights: [...x.weights] } : {}) };
}
