/**
 * "Does not fit": how much memory is missing and the smallest changes that
 * fix it (shorter workload, smaller dtype, more hosts), and the
 * `--min-cluster` search. Each candidate is checked by planning it.
 */
import { accountModel, type ModelConfig } from "../model/index.js";
import type { WeightDType } from "./catalogue.js";
import { uniformCluster, type ClusterSpec, type HostSpec, type NetworkSpec } from "./cluster.js";
import { modelCosts, usableBytes } from "./cost.js";
import { resolveCostOptions, resolveWorkload, type PlanOptions } from "./options.js";
import { formatBytes } from "./units.js";
import type { Fix, PlanJson, Shortfall } from "./types.js";

/** A planner without fix search (injected to keep this module acyclic at run time). */
export type PlanFn = (cfg: ModelConfig, cluster: ClusterSpec, o: PlanOptions) => PlanJson;

/** Weights + KV + activations the workload needs on this cluster, and the usable memory, bytes. */
export function memoryDemand(cfg: ModelConfig, cluster: ClusterSpec, o: PlanOptions): { needed: number; available: number; detail: string } {
  const workload = resolveWorkload(cfg, o);
  const opts = resolveCostOptions(cluster, o);
  const mc = modelCosts(cfg, o.dtype, workload, opts);
  const stageHosts = cluster.hosts.filter((h) => h.roles.includes("stage")).length;
  const expertHosts = cluster.hosts.filter((h) => h.roles.includes("expert")).length;
  const stages = Math.max(1, Math.min(stageHosts, cfg.nLayers));
  const weights = mc.account.totalBytes + (cfg.tiedEmbeddings && stages > 1 ? mc.embeddingBytes : 0);
  const kv = workload.concurrency * workload.context * mc.kvBytesPerTokenLayer * cfg.nLayers;
  const act = stages * mc.stageActivationBytes + expertHosts * mc.expertActivationBytes;
  const available = cluster.hosts.filter((h) => h.roles.includes("stage") || h.roles.includes("expert")).reduce((a, h) => a + usableBytes(h, opts), 0);
  const detail = `weights ${formatBytes(weights)} + KV cache ${formatBytes(kv)} (${workload.concurrency} × ${workload.context} tokens) + activations ${formatBytes(act)}`;
  return { needed: weights + kv + act, available, detail };
}

function withMemory(cluster: ClusterSpec, extra: number): ClusterSpec {
  return { ...cluster, hosts: cluster.hosts.map((h) => ({ ...h, memoryBytes: h.memoryBytes + extra })) };
}

/** Largest integer in [lo, hi] for which `ok` holds (monotone), or null. */
function largest(lo: number, hi: number, ok: (v: number) => boolean): number | null {
  if (hi < lo || !ok(lo)) return null;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Explain a plan that does not fit, and (when `search`) find fixes. */
export function computeShortfall(cfg: ModelConfig, cluster: ClusterSpec, o: PlanOptions, plan: PlanJson, planFn: PlanFn, search: boolean): Shortfall {
  const { needed, available, detail } = memoryDemand(cfg, cluster, o);
  let missing = needed - available;
  let reason: string;
  const explicit = plan.placement === "explicit";
  if (explicit) {
    const over = plan.hosts.filter((h) => h.memory.freeBytes < 0);
    missing = over.reduce((a, h) => a - h.memory.freeBytes, 0);
    reason = `the explicit placement overfills ${over.map((h) => `${h.name} by ${formatBytes(-h.memory.freeBytes)}`).join(", ")}`;
  } else if (missing > 0) {
    reason = `needs ${formatBytes(needed)} (${detail}) but the ${cluster.hosts.length} hosts have ${formatBytes(available)} usable: ${formatBytes(missing)} short`;
  } else {
    const max = Math.max(...cluster.hosts.map((h) => h.memoryBytes));
    let lo = 0;
    let hi = max;
    if (!planFn(cfg, withMemory(cluster, hi), o).fits) hi = 4 * max;
    for (let i = 0; i < 14; i++) {
      const mid = (lo + hi) / 2;
      if (planFn(cfg, withMemory(cluster, mid), o).fits) hi = mid;
      else lo = mid;
    }
    missing = hi * cluster.hosts.length;
    reason = `the total would fit (${formatBytes(needed)} of ${formatBytes(available)} usable) but the pieces do not pack (${plan.predicted.bottleneck.reason.replace(/^does not fit: /, "")}); about ${formatBytes(hi)} more per host would do`;
  }
  return { missingBytes: Math.max(0, missing), neededBytes: needed, availableBytes: available, reason, fixes: search ? findFixes(cfg, cluster, o, planFn, missing) : [] };
}

function findFixes(cfg: ModelConfig, cluster: ClusterSpec, o: PlanOptions, planFn: PlanFn, missing: number): Fix[] {
  const fixes: Fix[] = [];
  const w = resolveWorkload(cfg, o);
  const tryPlan = (c: ClusterSpec, opts: PlanOptions) => planFn(cfg, c, opts);
  if (w.concurrency > 1) {
    const c = largest(1, w.concurrency - 1, (v) => tryPlan(cluster, { ...o, concurrency: v }).fits);
    if (c !== null)
      fixes.push({ kind: "concurrency", change: `--concurrency ${c}`, description: `serve at most ${c} sequences of ${w.context} tokens at once`, decodeTokensPerSecond: tryPlan(cluster, { ...o, concurrency: c }).predicted.decodeTokensPerSecond });
  }
  if (w.context > 1) {
    const floor = Math.min(w.context - 1, 256);
    const ctx = largest(floor, w.context - 1, (v) => tryPlan(cluster, { ...o, context: v, promptTokens: Math.min(w.promptTokens, v) }).fits);
    if (ctx !== null) {
      const nice = ctx >= 512 ? ctx - (ctx % 256) : ctx;
      const p = tryPlan(cluster, { ...o, context: nice, promptTokens: Math.min(w.promptTokens, nice) });
      fixes.push({ kind: "context", change: `--context ${nice}`, description: `size the KV cache for ${nice}-token sequences`, decodeTokensPerSecond: p.predicted.decodeTokensPerSecond });
    }
  }
  const current = accountModel(cfg, o.dtype).totalBytes;
  const smaller = (["int8", "q8_0", "bf16", "f16"] as WeightDType[])
    .map((d) => ({ d, bytes: accountModel(cfg, d).totalBytes }))
    .filter((x) => x.bytes < current && x.d !== o.dtype)
    .sort((a, b) => a.bytes - b.bytes || a.d.localeCompare(b.d));
  for (const { d } of smaller) {
    const p = tryPlan(cluster, { ...o, dtype: d });
    if (p.fits) {
      fixes.push({ kind: "dtype", change: `--dtype ${d}`, description: `store weights as ${d} (${formatBytes(p.model.weightBytes)} instead of ${formatBytes(current)})`, decodeTokensPerSecond: p.predicted.decodeTokensPerSecond });
      break;
    }
  }
  if (o.usePlacement !== false && cluster.placement) {
    const p = tryPlan(cluster, { ...o, usePlacement: false });
    if (p.fits) fixes.push({ kind: "add-hosts", change: "--replan", description: "let the planner place layers and experts instead of the cluster file's placement", decodeTokensPerSecond: p.predicted.decodeTokensPerSecond });
    return fixes;
  }
  const add = cheapestAddition(cfg, cluster, o, planFn, missing);
  if (add) fixes.push(add);
  return fixes;
}

function clones(t: HostSpec, k: number, taken: ReadonlySet<string>): HostSpec[] {
  const out: HostSpec[] = [];
  for (let j = 0; out.length < k; j++) {
    const name = `${t.name}-extra${j}`;
    if (!taken.has(name)) out.push({ ...t, name, address: undefined });
  }
  return out;
}

function cheapestAddition(cfg: ModelConfig, cluster: ClusterSpec, o: PlanOptions, planFn: PlanFn, missing: number): Fix | null {
  const opts = resolveCostOptions(cluster, o);
  const seen = new Set<string>();
  const templates = cluster.hosts.filter((h) => {
    const key = h.device ?? `${h.memoryBytes}/${h.memoryBandwidth}/${h.roles.join(",")}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return h.roles.includes("expert") || h.roles.includes("stage");
  });
  const names = new Set(cluster.hosts.map((h) => h.name));
  let best: { k: number; t: HostSpec; plan: PlanJson } | null = null;
  for (const t of templates) {
    const start = Math.max(1, Math.ceil(Math.max(0, missing) / Math.max(1, usableBytes(t, opts))));
    for (let k = start; k < start + 32 && (!best || k <= best.k); k++) {
      const plan = planFn(cfg, { ...cluster, hosts: [...cluster.hosts, ...clones(t, k, names)] }, o);
      if (plan.fits) {
        if (!best || k < best.k || (k === best.k && t.memoryBytes < best.t.memoryBytes)) best = { k, t, plan };
        break;
      }
    }
  }
  if (!best) return null;
  const label = best.t.device ?? best.t.name;
  return {
    kind: "add-hosts",
    change: `add ${best.k}× ${label}`,
    description: `${cluster.hosts.length + best.k} hosts instead of ${cluster.hosts.length} (each like ${best.t.name})`,
    decodeTokensPerSecond: best.plan.predicted.decodeTokensPerSecond,
  };
}

/** Result of {@link minCluster}. */
export interface MinClusterResult {
  readonly device: string;
  /** Smallest number of devices that fits, or null if none up to `limit`. */
  readonly count: number | null;
  readonly plan: PlanJson | null;
}

/** "How many of these do I need": the smallest n such that n × device fits the model and workload. */
export function minCluster(cfg: ModelConfig, deviceKey: string, o: PlanOptions, planFn: PlanFn, network?: NetworkSpec, limit = 4096): MinClusterResult {
  const one = uniformCluster(deviceKey, 1, network);
  const { needed } = memoryDemand(cfg, one, o);
  const per = usableBytes(one.hosts[0]!, resolveCostOptions(one, o));
  let n = Math.max(1, Math.floor(needed / per));
  for (let tries = 0; n <= limit && tries < 64; n++, tries++) {
    const plan = planFn(cfg, uniformCluster(deviceKey, n, network), o);
    if (plan.fits) return { device: one.hosts[0]!.device!, count: n, plan };
  }
  return { device: one.hosts[0]!.device!, count: null, plan: null };
}
