/**
 * What a dynamic cluster's coordinator plans over the hosts alive now: the
 * previous plan patched (survivors keep what they hold; experts of lost hosts
 * placed again, planner/replan.ts) when it can be, else a plan made afresh
 * (the cluster file's `placement:` when every host it names is alive).
 */
import type { Logger } from "pino";
import type { ModelConfig } from "../model/index.js";
import { makePlan, placeWithoutLost, type ClusterSpec, type HostSpec, type PlanJson } from "../planner/index.js";
import { PlanNotServableError } from "./errors.js";

/** A plan over the live hosts and how it came about. */
export interface LivePlan {
  readonly plan: PlanJson;
  /** The cluster the plan was made for: the file's, with the live hosts. */
  readonly cluster: ClusterSpec;
  /** Experts placed on another host than before. */
  readonly moved: number;
  /** Whether it was made afresh (no previous plan, or it could not be patched). */
  readonly fresh: boolean;
}

/**
 * Plan the model `config` (file `modelPath`) over `hosts` (alive, sorted). With `prev`, the plan in force,
 * and `prevHosts`, the hosts it gave processes: a host of it that is gone or in `lost` loses its share.
 * Throws {@link PlanNotServableError} when the model does not fit on the live hosts.
 */
export function planOverLiveHosts(o: {
  readonly config: ModelConfig;
  readonly cluster: ClusterSpec;
  readonly modelPath: string;
  readonly hosts: readonly HostSpec[];
  readonly prev?: { readonly plan: PlanJson; readonly hosts: ReadonlySet<string> };
  readonly lost: ReadonlySet<string>;
  readonly logger: Logger;
}): LivePlan {
  const { config, hosts, prev, lost } = o;
  const names = new Set(hosts.map((h) => h.name));
  const cluster: ClusterSpec = { ...o.cluster, hosts };
  const opts = { dtype: o.cluster.dtype ?? "f32", modelSource: o.modelPath } as const;
  let plan: PlanJson | undefined;
  let moved = 0;
  let fresh = true;
  if (prev) {
    const gone = new Set([...prev.hosts].filter((h) => !names.has(h) || lost.has(h)));
    const free = (h: string) => prev.plan.hosts.find((x) => x.name === h)?.memory.freeBytes ?? hosts.find((x) => x.name === h)!.memoryBytes - hosts.find((x) => x.name === h)!.reserveBytes;
    const r = placeWithoutLost(prev.plan, gone, hosts, prev.plan.model.expertBytes, free);
    if (r && "placement" in r) {
      plan = makePlan(config, { ...cluster, placement: r.placement }, opts);
      moved = r.moved.length;
      fresh = false;
    } else if (r) o.logger.warn({ reason: r.reason }, "cannot patch the plan; planning afresh");
  }
  if (!plan) {
    const explicit = o.cluster.placement;
    const usable = explicit && [...explicit.stages.map((s) => s.host), ...explicit.experts.flatMap((x) => x.hosts), ...(explicit.routers ?? []).map((r) => r.host)].every((h) => names.has(h));
    plan = makePlan(config, usable ? cluster : { ...cluster, placement: undefined }, opts);
  }
  if (!plan.fits)
    throw new PlanNotServableError(`the model does not fit on the ${hosts.length} live hosts (${hosts.map((h) => h.name).join(", ")}): ${plan.shortfall?.reason ?? "over capacity"}`, {
      fix: "join more hosts (`moe node --join`) or lower min_hosts only when they suffice",
    });
  return { plan, cluster, moved, fresh };
}
