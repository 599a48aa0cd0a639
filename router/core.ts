/**
 * The router's work for one layer, independent of sockets: gate the rows
 * (fp32 softmax, top-k, un-renormalised gates — model/gating.ts), group them
 * by expert, dispatch every group at once to a host holding that expert
 * (replica by health and load, retry on another replica on failure), gather,
 * and combine in rank order in f32. Per-expert token counts are kept for the
 * planner.
 */
import { combine, gatherRows, groupByExpert, routeRows, type ModelConfig } from "../model/index.js";
import { ExpertUnavailableError, PlacementError } from "./errors.js";
import { coolDownMs, rankReplicas, type HostHealth } from "./replicas.js";

/** Rows handed to an expert host. */
export interface DispatchRows {
  /** Sequence id per row, [R]. */
  readonly seq: Uint32Array;
  /** Position per row, [R]. */
  readonly pos: Uint32Array;
  /** Row index in the router's batch, [R]. */
  readonly row: Uint32Array;
  /** [R, D] f32. */
  readonly hidden: Float32Array;
}

/** How the router reaches expert hosts (ZeroMQ in production; anything in tests). */
export interface ExpertTransport {
  /** Run `rows` through (layer, expert) on `host`; resolves to [R, D] or rejects (error, deadline). */
  call(host: string, layer: number, expert: number, rows: DispatchRows, deadline: number): Promise<Float32Array>;
}

/** (layer, expert) → hosts holding it (replicas), from plan.json's `experts`. */
export type ExpertPlacement = ReadonlyMap<string, readonly string[]>;

/** Key of a (layer, expert) pair in an {@link ExpertPlacement}. */
export const placementKey = (layer: number, expert: number): string => `${layer}:${expert}`;

/** Router options. */
export interface RouterCoreOptions {
  /** Longest wait for one dispatch before trying another replica (ms). Default 5000. */
  readonly dispatchTimeoutMs?: number;
  /**
   * Share of an expert's rows per replica (plan.json `experts[].weights`, same order as its hosts), by
   * placement key. A group of rows for a replicated expert is split across its healthy replicas in these
   * proportions (EPLB-style, weighted by host speed); without weights the whole group goes to one replica.
   */
  readonly replicaWeights?: ReadonlyMap<string, readonly number[]>;
  /** Clock (ms), for tests. */
  readonly now?: () => number;
}

/** Per-expert token counts: counts[layer][expert] = rows routed so far. */
export type ExpertLoad = number[][];

/** What a stage needs from its router: the combined MoE rows [N, D] of one layer. */
export interface MoeRouter {
  moe(layer: number, m: Float32Array, seq: Uint32Array, pos: Uint32Array, deadline: number): Promise<Float32Array>;
}

export class RouterCore implements MoeRouter {
  /** Tokens routed per (layer, expert). */
  readonly load: ExpertLoad;
  private readonly health = new Map<string, HostHealth>();
  private readonly dispatchTimeoutMs: number;
  private readonly now: () => number;
  private readonly replicaWeights: ReadonlyMap<string, readonly number[]>;

  constructor(
    private readonly cfg: ModelConfig,
    /** Router matrices [E, D] by layer. */
    private readonly routers: ReadonlyMap<number, Float32Array>,
    private readonly placement: ExpertPlacement,
    private readonly transport: ExpertTransport,
    opts: RouterCoreOptions = {},
  ) {
    this.load = Array.from({ length: cfg.nLayers }, () => new Array<number>(cfg.nExperts).fill(0));
    this.dispatchTimeoutMs = opts.dispatchTimeoutMs ?? 5000;
    this.replicaWeights = opts.replicaWeights ?? new Map();
    this.now = opts.now ?? Date.now;
    for (const [layer] of routers)
      for (let e = 0; e < cfg.nExperts; e++)
        if (!placement.get(placementKey(layer, e))?.length) throw new PlacementError(`no host holds expert ${e} of layer ${layer}; every (layer, expert) needs at least one host`);
  }

  /** Snapshot of host health (for metrics and `/health`). */
  hostHealth(): ReadonlyMap<string, Readonly<HostHealth>> {
    return this.health;
  }

  /**
   * Combined MoE output y [N, D] for the pre-MoE normed rows m [N, D] of `layer`.
   * `seq`/`pos` label the rows for the expert hosts. Rejects with
   * ExpertUnavailableError (naming layer, expert and hosts) when an expert cannot be served by `deadline`.
   */
  async moe(layer: number, m: Float32Array, seq: Uint32Array, pos: Uint32Array, deadline: number): Promise<Float32Array> {
    const router = this.routers.get(layer);
    if (!router) throw new PlacementError(`this router does not serve layer ${layer}`);
    const D = this.cfg.dModel;
    const routing = routeRows(m, router, this.cfg.nExperts, this.cfg.nExpertsUsed);
    const groups = groupByExpert(routing, this.cfg.nExperts);
    const outputs = new Map<number, Float32Array>();
    await Promise.all(
      groups.map(async (g) => {
        this.load[layer]![g.expert]! += g.rows.length;
        const rows: DispatchRows = {
          row: Uint32Array.from(g.rows),
          seq: Uint32Array.from(g.rows, (r) => seq[r]!),
          pos: Uint32Array.from(g.rows, (r) => pos[r]!),
          hidden: gatherRows(m, D, g.rows),
        };
        outputs.set(g.expert, await this.dispatchSplit(layer, g.expert, rows, deadline));
      }),
    );
    return combine(routing, groups, outputs, D);
  }

  /**
   * Send one group: split across the healthy replicas by their weights when the
   * expert has several and weights are known, else to the best replica.
   */
  private async dispatchSplit(layer: number, expert: number, rows: DispatchRows, deadline: number): Promise<Float32Array> {
    const key = placementKey(layer, expert);
    const hosts = this.placement.get(key)!;
    const weights = this.replicaWeights.get(key);
    const now = this.now();
    const shares = weights && hosts.length > 1 ? splitShares(rows.row.length, hosts, weights, (h) => (this.health.get(h)?.downUntil ?? 0) <= now) : [];
    if (shares.filter((n) => n > 0).length < 2) return this.dispatch(layer, expert, rows, deadline);
    const D = this.cfg.dModel;
    const out = new Float32Array(rows.hidden.length);
    const starts = shares.map((_, i) => shares.slice(0, i).reduce((x, y) => x + y, 0));
    await Promise.all(
      shares.map(async (n, i) => {
        if (n === 0) return;
        const [a, b] = [starts[i]!, starts[i]! + n];
        const part: DispatchRows = { row: rows.row.subarray(a, b), seq: rows.seq.subarray(a, b), pos: rows.pos.subarray(a, b), hidden: rows.hidden.subarray(a * D, b * D) };
        out.set(await this.dispatch(layer, expert, part, deadline, hosts[i]), a * D);
      }),
    );
    return out;
  }

  /** Send rows to the best replica (`preferred` first when healthy); on failure try the others, then give up. */
  private async dispatch(layer: number, expert: number, rows: DispatchRows, deadline: number, preferred?: string): Promise<Float32Array> {
    const hosts = this.placement.get(placementKey(layer, expert))!;
    const attempts: { host: string; error: string }[] = [];
    const now = this.now();
    const ranked = rankReplicas(hosts, this.health, now);
    if (preferred !== undefined && (this.health.get(preferred)?.downUntil ?? 0) <= now) ranked.sort((a, b) => Number(b === preferred) - Number(a === preferred));
    for (const host of ranked) {
      const left = deadline - this.now();
      if (left <= 0) {
        attempts.push({ host, error: "request deadline passed before dispatch" });
        break;
      }
      const h = this.state(host);
      h.inflightRows += rows.row.length;
      try {
        const y = await this.transport.call(host, layer, expert, rows, Math.min(deadline, this.now() + this.dispatchTimeoutMs));
        h.failures = 0;
        h.downUntil = 0;
        return y;
      } catch (e) {
        h.failures++;
        h.downUntil = this.now() + coolDownMs(h.failures);
        attempts.push({ host, error: (e as Error).message });
      } finally {
        h.inflightRows -= rows.row.length;
      }
    }
    throw new ExpertUnavailableError(layer, expert, attempts);
  }

  private state(host: string): HostHealth {
    let h = this.health.get(host);
    if (!h) this.health.set(host, (h = { inflightRows: 0, downUntil: 0, failures: 0 }));
    return h;
  }
}

/**
 * Rows per replica for a group of `rows`: proportional to `weights` over the
 * replicas `usable` says are healthy (largest remainder, ties to the earlier
 * replica); all zeros when fewer than two are usable or the weights are unusable.
 */
export function splitShares(rows: number, hosts: readonly string[], weights: readonly number[], usable: (host: string) => boolean): number[] {
  const w = hosts.map((h, i) => (usable(h) && Number.isFinite(weights[i]) && weights[i]! > 0 ? weights[i]! : 0));
  const total = w.reduce((a, b) => a + b, 0);
  if (total <= 0 || w.filter((x) => x > 0).length < 2 || rows < 2) return hosts.map(() => 0);
  const exact = w.map((x) => (rows * x) / total);
  const shares = exact.map(Math.floor);
  let left = rows - shares.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ i, frac: x - Math.floor(x) })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (left === 0) break;
    if (w[i]! > 0) shares[i]!++, left--;
  }
  return shares;
}
