/**
 * The router's work for one layer, independent of sockets: gate the rows
 * (fp32 softmax, top-k, un-renormalised gates — model/gating.ts), group them
 * by expert, dispatch every group at once to a host holding that expert
 * (replica by health and load, retry on another replica on failure), gather,
 * and combine in rank order in f32. Per-expert token counts are kept for the
 * planner.
 */
import { combine, gatherRows, groupByExpert, routeRows, type ModelConfig } from "../model/index.js";
import { placementKey, type DispatchPart, type DispatchRows, type ExpertLoad, type ExpertPlacement, type ExpertTransport, type MoeRouter, type RouterCoreOptions } from "./core-types.js";
import { ExpertUnavailableError, PlacementError } from "./errors.js";
import { coolDownMs, rankReplicas, splitShares, type HostHealth } from "./replicas.js";

/** Rows [at, at + rows) of one expert's group, bound for one host. */
interface Piece {
  readonly expert: number;
  readonly rows: DispatchRows;
  /** First row of this piece in its expert's group. */
  readonly at: number;
  /** Rows in the expert's whole group (the piece is the whole group when it has them all). */
  readonly groupRows: number;
}

/** Where the rows of an expert's group go: [host, firstRow, endRow) of its rows `group`. */
interface Share {
  readonly expert: number;
  readonly group: Int32Array;
  readonly a: number;
  readonly b: number;
}

/**
 * Store a piece's output `y` [rows, D] in `outputs` (expert → its group's output rows): a piece that is
 * the whole group is used as it came (no copy); pieces of a split group fill one buffer of the group.
 */
function place(outputs: Map<number, Float32Array>, p: Piece, y: Float32Array, dModel: number): void {
  if (p.at === 0 && p.rows.row.length === p.groupRows) return void outputs.set(p.expert, y);
  let out = outputs.get(p.expert);
  if (!out) outputs.set(p.expert, (out = new Float32Array(p.groupRows * dModel)));
  out.set(y, p.at * dModel);
}

export class RouterCore implements MoeRouter {
  /** Tokens routed per (layer, expert). */
  readonly load: ExpertLoad;
  private readonly health = new Map<string, HostHealth>();
  private readonly dispatchTimeoutMs: number;
  private readonly now: () => number;
  private replicaWeights: ReadonlyMap<string, readonly number[]>;
  private placement: ExpertPlacement;
  private readonly holdForPlacement: boolean;
  /** Dispatches held for the next placement (see {@link RouterCoreOptions.holdForPlacement}). */
  private readonly waiting = new Set<() => void>();
  /** Placements installed since start (1 = the first). */
  private placementVersion = 1;

  constructor(
    private readonly cfg: ModelConfig,
    /** Router matrices [E, D] by layer. */
    private readonly routers: ReadonlyMap<number, Float32Array>,
    placement: ExpertPlacement,
    private readonly transport: ExpertTransport,
    opts: RouterCoreOptions = {},
  ) {
    this.load = Array.from({ length: cfg.nLayers }, () => new Array<number>(cfg.nExperts).fill(0));
    this.dispatchTimeoutMs = opts.dispatchTimeoutMs ?? 5000;
    this.replicaWeights = opts.replicaWeights ?? new Map();
    this.holdForPlacement = opts.holdForPlacement ?? false;
    this.now = opts.now ?? Date.now;
    this.checkPlacement(placement);
    this.placement = placement;
  }

  private checkPlacement(placement: ExpertPlacement): void {
    for (const [layer] of this.routers)
      for (let e = 0; e < this.cfg.nExperts; e++)
        if (!placement.get(placementKey(layer, e))?.length) throw new PlacementError(`no host holds expert ${e} of layer ${layer}; every (layer, expert) needs at least one host`);
  }

  /**
   * Switch to a new placement (a re-plan): dispatches from now on use it, held ones are retried on it, and
   * hosts no longer in it are forgotten. @throws PlacementError (and keeps the old one) when it lacks an expert
   */
  setPlacement(placement: ExpertPlacement, replicaWeights: ReadonlyMap<string, readonly number[]> = new Map()): void {
    this.checkPlacement(placement);
    this.placement = placement;
    this.replicaWeights = replicaWeights;
    this.placementVersion++;
    const kept = new Set([...placement.values()].flat());
    for (const h of [...this.health.keys()]) if (!kept.has(h) && this.health.get(h)!.inflightRows === 0) this.health.delete(h);
    for (const wake of [...this.waiting]) wake();
  }

  /** Hosts the current placement names, sorted. */
  hosts(): string[] {
    return [...new Set([...this.placement.values()].flat())].sort();
  }

  /** Resolve true when a placement newer than version `seen` is there, false when `deadline` (Unix ms) passes first. */
  private nextPlacement(seen: number, deadline: number): Promise<boolean> {
    if (this.placementVersion !== seen) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.waiting.delete(wake);
        resolve(this.placementVersion !== seen);
      };
      const timer = setTimeout(wake, Math.max(0, deadline - this.now()));
      this.waiting.add(wake);
    });
  }

  /** Snapshot of host health (for metrics and `/health`). */
  hostHealth(): ReadonlyMap<string, Readonly<HostHealth>> {
    return this.health;
  }

  /**
   * Combined MoE output y [N, D] for the pre-MoE normed rows m [N, D] of `layer`.
   * `seq`/`pos` label the rows for the expert hosts. Every expert host gets one message for the
   * layer holding the rows of all its experts. Rejects with ExpertUnavailableError (naming layer,
   * expert and hosts) when an expert cannot be served by `deadline`.
   */
  async moe(layer: number, m: Float32Array, seq: Uint32Array, pos: Uint32Array, deadline: number): Promise<Float32Array> {
    const router = this.routers.get(layer);
    if (!router) throw new PlacementError(`this router does not serve layer ${layer}`);
    const D = this.cfg.dModel;
    const routing = routeRows(m, router, this.cfg.nExperts, this.cfg.nExpertsUsed);
    const groups = groupByExpert(routing, this.cfg.nExperts);
    const byHost = new Map<string, Share[]>();
    const now = this.now();
    for (const g of groups) {
      this.load[layer]![g.expert]! += g.rows.length;
      for (const [host, a, b] of this.assign(layer, g.expert, g.rows.length, now)) {
        let list = byHost.get(host);
        if (!list) byHost.set(host, (list = []));
        list.push({ expert: g.expert, group: g.rows, a, b });
      }
    }
    // every host's rows gathered once into one buffer, its pieces views of it in order (the transport sends it as is)
    const outputs = new Map<number, Float32Array>();
    const sends: Promise<void>[] = [];
    for (const [host, shares] of byHost) {
      let n = 0;
      for (const x of shares) n += x.b - x.a;
      const row = new Uint32Array(n);
      const sq = new Uint32Array(n);
      const ps = new Uint32Array(n);
      const hidden = new Float32Array(n * D);
      const pieces: Piece[] = [];
      let at = 0;
      for (const x of shares) {
        const k = x.b - x.a;
        for (let i = 0; i < k; i++) {
          const r = x.group[x.a + i]!;
          row[at + i] = r;
          sq[at + i] = seq[r]!;
          ps[at + i] = pos[r]!;
        }
        const rows: DispatchRows = { row: row.subarray(at, at + k), seq: sq.subarray(at, at + k), pos: ps.subarray(at, at + k), hidden: gatherRows(m, D, x.group.subarray(x.a, x.b), hidden.subarray(at * D, (at + k) * D)) };
        pieces.push({ expert: x.expert, rows, at: x.a, groupRows: x.group.length });
        at += k;
      }
      sends.push(this.sendHost(layer, host, pieces, deadline, outputs));
    }
    await Promise.all(sends);
    return combine(routing, groups, outputs, D);
  }

  /**
   * Where an expert's `n` rows go: split across its healthy replicas by their weights when it has
   * several and weights are known, else all to the best replica. @returns [host, firstRow, endRow) triples
   */
  private assign(layer: number, expert: number, n: number, now: number): [string, number, number][] {
    const key = placementKey(layer, expert);
    const hosts = this.placement.get(key)!;
    const weights = this.replicaWeights.get(key);
    const shares = weights && hosts.length > 1 ? splitShares(n, hosts, weights, (h) => (this.health.get(h)?.downUntil ?? 0) <= now) : [];
    if (shares.filter((k) => k > 0).length < 2) return [[rankReplicas(hosts, this.health, now)[0]!, 0, n]];
    const out: [string, number, number][] = [];
    let a = 0;
    shares.forEach((k, i) => {
      if (k > 0) out.push([hosts[i]!, a, a + k]);
      a += k;
    });
    return out;
  }

  /** One message to `host` with all its pieces; on failure each piece is retried on its other replicas. */
  private async sendHost(layer: number, host: string, pieces: readonly Piece[], deadline: number, outputs: Map<number, Float32Array>): Promise<void> {
    const D = this.cfg.dModel;
    const h = this.state(host);
    const rows = pieces.reduce((a, p) => a + p.rows.row.length, 0);
    let failed: { host: string; error: string } | undefined;
    if (deadline - this.now() <= 0) failed = { host, error: "request deadline passed before dispatch" };
    else {
      h.inflightRows += rows;
      try {
        const ys = await this.transport.call(host, layer, pieces, Math.min(deadline, this.now() + this.dispatchTimeoutMs));
        h.failures = 0;
        h.downUntil = 0;
        pieces.forEach((p, i) => place(outputs, p, ys[i]!, D));
        return;
      } catch (e) {
        h.failures++;
        h.downUntil = this.now() + coolDownMs(h.failures);
        failed = { host, error: (e as Error).message };
      } finally {
        h.inflightRows -= rows;
      }
    }
    await Promise.all(pieces.map(async (p) => place(outputs, p, await this.dispatch(layer, p.expert, p.rows, deadline, failed!), D)));
  }

  /**
   * Send one expert's rows to its best replica other than the one that already failed; try the others; then,
   * with `holdForPlacement`, wait for a new placement and try its hosts; then give up.
   */
  private async dispatch(layer: number, expert: number, rows: DispatchRows, deadline: number, failed: { host: string; error: string }): Promise<Float32Array> {
    const attempts = [failed];
    const tried = new Set([failed.host]);
    for (;;) {
      const seen = this.placementVersion;
      const hosts = this.placement.get(placementKey(layer, expert))!;
      for (const host of rankReplicas(hosts, this.health, this.now()).filter((x) => !tried.has(x))) {
        if (deadline - this.now() <= 0) {
          attempts.push({ host, error: "request deadline passed before dispatch" });
          break;
        }
        tried.add(host);
        const h = this.state(host);
        h.inflightRows += rows.row.length;
        try {
          const [y] = await this.transport.call(host, layer, [{ expert, rows }], Math.min(deadline, this.now() + this.dispatchTimeoutMs));
          h.failures = 0;
          h.downUntil = 0;
          return y!;
        } catch (e) {
          h.failures++;
          h.downUntil = this.now() + coolDownMs(h.failures);
          attempts.push({ host, error: (e as Error).message });
        } finally {
          h.inflightRows -= rows.row.length;
        }
      }
      if (!this.holdForPlacement || deadline - this.now() <= 0) break;
      if (!(await this.nextPlacement(seen, deadline))) {
        attempts.push({ host: "(re-plan)", error: "no new placement arrived before the request's deadline" });
        break;
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
