/**
 * Contiguous layer partition over stage hosts, host order chosen too, by
 * dynamic programming.
 *
 * Every layer of a Grok-family model costs the same, so a stage's time,
 * memory and spare room depend only on its host, its number of layers `n`
 * and whether it is the first stage (embedding), the last (unembedding) or
 * both. Interior stages can then be put in any order without changing the
 * objective, and the DP runs over hosts in a fixed order with state
 * (layers assigned, first taken, last taken): O(hosts × layers² × 4).
 * The pipeline order is: first stage, interior stages by host index, last.
 *
 * Objectives, lexicographic (each phase exact, ties broken by host index):
 * - mode "kv":    min slowest stage → max KV capacity (min over stages) → min total stage time;
 * - mode "slots": min slowest stage subject to Σ spare expert slots ≥ required →
 *                 max spare slots → min total stage time.
 */

/** Where a stage sits in the pipeline. */
export type PartitionRole = "interior" | "first" | "last" | "only";
/** Index order of {@link PartitionHost.options}. */
export const PARTITION_ROLES: readonly PartitionRole[] = ["interior", "first", "last", "only"];

/** One feasible (host, role, n) choice. */
export interface StageOption {
  /** Stage time per decode step, seconds (the slowest one is minimised). */
  readonly cost: number;
  /** Cached tokens the stage could hold in its free memory (mode "kv"). */
  readonly kvTokens: number;
  /** Expert slots left on the host (mode "slots"). */
  readonly slots: number;
}

/** A candidate stage host. */
export interface PartitionHost {
  /** `options[role][n]` for role in {@link PARTITION_ROLES} order and n = 0..layers; null = does not fit. */
  readonly options: readonly (readonly (StageOption | null)[])[];
  /** Expert slots the host offers when it holds no layers (mode "slots"). */
  readonly idleSlots: number;
}

/** Input of {@link partitionLayers}. */
export interface PartitionProblem {
  readonly layers: number;
  readonly hosts: readonly PartitionHost[];
  readonly mode: "kv" | "slots";
  /** Mode "slots": spare expert slots the partition must leave, summed over all hosts. */
  readonly requiredSlots: number;
}

/** One stage of the result: host index and layers [first, end). */
export interface PartitionStage {
  readonly host: number;
  readonly first: number;
  readonly end: number;
  readonly role: PartitionRole;
}

/** The chosen partition and its objective values. */
export interface PartitionResult {
  readonly stages: readonly PartitionStage[];
  /** Slowest stage, seconds. */
  readonly maxCost: number;
  /** Smallest KV capacity over stages, tokens. */
  readonly minKvTokens: number;
  /** Sum of stage times, seconds. */
  readonly totalCost: number;
  /** Spare expert slots over all hosts (stage hosts' leftovers + idle hosts). */
  readonly slots: number;
}

interface Phase {
  allowed(o: StageOption): boolean;
  /** "max": a combines by max (bottleneck); "add": by sum. b always adds. */
  readonly aMode: "max" | "add";
  a(o: StageOption): number;
  /** Secondary key; gets the host index and role index for positional tie-breaks. */
  b(o: StageOption, host: number, role: number): number;
  idleA(h: PartitionHost): number;
}

interface Decision {
  host: number;
  role: number;
  n: number;
}

/** Run one DP phase; returns the optimal (a, b) and the decisions, or null when infeasible. */
function runPhase(p: PartitionProblem, ph: Phase): { a: number; b: number; decisions: Decision[] } | null {
  const L = p.layers;
  const S = (L + 1) * 4;
  const start = ph.aMode === "max" ? -Infinity : 0;
  let A = new Float64Array(S).fill(Infinity);
  let B = new Float64Array(S).fill(Infinity);
  A[0] = start;
  B[0] = 0;
  const prev: Int32Array[] = [];
  const how: Int32Array[] = [];
  const W = L + 1;
  const va = new Float64Array(4 * W);
  const vb = new Float64Array(4 * W);
  const ok = new Uint8Array(4 * W);
  const isMax = ph.aMode === "max";
  for (let i = 0; i < p.hosts.length; i++) {
    const h = p.hosts[i]!;
    // This host's (role, n) values for the phase, flattened: index r * W + n.
    for (let r = 0; r < 4; r++)
      for (let n = 1; n <= L; n++) {
        const o = h.options[r]![n];
        const k = r * W + n;
        ok[k] = o && ph.allowed(o) ? 1 : 0;
        if (ok[k]) (va[k] = ph.a(o!)), (vb[k] = ph.b(o!, i, r));
      }
    const nA = new Float64Array(S).fill(Infinity);
    const nB = new Float64Array(S).fill(Infinity);
    const pv = new Int32Array(S).fill(-1);
    const hw = new Int32Array(S).fill(-1);
    const idle = ph.idleA(h);
    for (let s = 0; s < S; s++) {
      const a0 = A[s]!;
      if (a0 === Infinity) continue;
      const b0 = B[s]!;
      const j = s >> 2;
      const f = (s >> 1) & 1;
      const g = s & 1;
      for (let r = -1; r < 4; r++) {
        if ((r === 1 && f) || (r === 2 && g) || (r === 3 && (j || f || g))) continue;
        const nf = r === 1 || r === 3 ? 1 : f;
        const ng = r === 2 || r === 3 ? 1 : g;
        const lo = r === -1 ? 0 : r === 3 ? L : 1;
        const hi = r === -1 ? 0 : L - j;
        for (let n = lo; n <= hi; n++) {
          let a: number;
          let b: number;
          if (r < 0) (a = isMax ? a0 : a0 + idle), (b = b0);
          else {
            const k = r * W + n;
            if (!ok[k]) continue;
            a = isMax ? (va[k]! > a0 ? va[k]! : a0) : a0 + va[k]!;
            b = b0 + vb[k]!;
          }
          const t = ((j + n) << 2) | (nf << 1) | ng;
          const cur = nA[t]!;
          const tol = !isMax && cur !== Infinity ? 1e-12 * (cur > 1 || cur < -1 ? Math.abs(cur) : 1) : 0;
          if (a < cur - tol || (a <= cur + tol && b < nB[t]!)) {
            nA[t] = a;
            nB[t] = b;
            pv[t] = s;
            hw[t] = r < 0 ? -1 : r * 4096 + n;
          }
        }
      }
    }
    A = nA;
    B = nB;
    prev.push(pv);
    how.push(hw);
  }
  const end = (L << 2) | 3;
  if (A[end] === Infinity) return null;
  const decisions: Decision[] = [];
  let s = end;
  for (let i = p.hosts.length - 1; i >= 0; i--) {
    const code = how[i]![s]!;
    if (code >= 0) decisions.push({ host: i, role: Math.floor(code / 4096), n: code % 4096 });
    s = prev[i]![s]!;
  }
  return { a: A[end]!, b: B[end]!, decisions: decisions.reverse() };
}

function assemble(p: PartitionProblem, decisions: Decision[]): PartitionResult {
  const order = [
    ...decisions.filter((d) => d.role === 1 || d.role === 3),
    ...decisions.filter((d) => d.role === 0),
    ...decisions.filter((d) => d.role === 2),
  ];
  const used = new Set(order.map((d) => d.host));
  let at = 0;
  let maxCost = 0;
  let totalCost = 0;
  let minKv = Infinity;
  let slots = 0;
  const stages: PartitionStage[] = order.map((d) => {
    const o = p.hosts[d.host]!.options[d.role]![d.n]!;
    maxCost = Math.max(maxCost, o.cost);
    totalCost += o.cost;
    minKv = Math.min(minKv, o.kvTokens);
    slots += o.slots;
    const st = { host: d.host, first: at, end: at + d.n, role: PARTITION_ROLES[d.role]! };
    at += d.n;
    return st;
  });
  p.hosts.forEach((h, i) => {
    if (!used.has(i)) slots += h.idleSlots;
  });
  return { stages, maxCost, minKvTokens: minKv, totalCost, slots };
}

/** Every stage cost that some feasible option has, sorted ascending (thresholds for phase 1). */
function candidateCosts(p: PartitionProblem): number[] {
  const set = new Set<number>();
  for (const h of p.hosts) for (const row of h.options) for (const o of row) if (o) set.add(o.cost);
  return [...set].sort((a, b) => a - b);
}

/**
 * Choose stage hosts, their order and contiguous layer ranges (see the file
 * comment for the objectives). Returns null when no partition fits.
 */
export function partitionLayers(p: PartitionProblem): PartitionResult | null {
  if (p.layers < 1 || p.hosts.length === 0) return null;
  const never = () => 0;
  if (p.mode === "kv") {
    const p1 = runPhase(p, { allowed: () => true, aMode: "max", a: (o) => o.cost, b: never, idleA: never });
    if (!p1) return null;
    const T = p1.a;
    const p2 = runPhase(p, { allowed: (o) => o.cost <= T, aMode: "max", a: (o) => -o.kvTokens, b: never, idleA: never })!;
    const K = -p2.a;
    // Ties: the first stage on the lowest host index, the last on the highest (pipeline follows the file's order).
    const H = p.hosts.length;
    const position = (_: StageOption, i: number, r: number) => (r === 1 ? i : r === 2 ? H - 1 - i : 0);
    const p3 = runPhase(p, { allowed: (o) => o.cost <= T && o.kvTokens >= K, aMode: "add", a: (o) => o.cost, b: position, idleA: never })!;
    return assemble(p, p3.decisions);
  }
  const slotsPhase = (T: number) =>
    runPhase(p, { allowed: (o) => o.cost <= T, aMode: "add", a: (o) => -o.slots, b: (o) => o.cost, idleA: (h) => -h.idleSlots });
  const costs = candidateCosts(p);
  const ok = (T: number) => {
    const r = slotsPhase(T);
    return r !== null && -r.a >= p.requiredSlots;
  };
  if (costs.length === 0 || !ok(costs[costs.length - 1]!)) return null;
  let lo = 0;
  let hi = costs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ok(costs[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return assemble(p, slotsPhase(costs[lo]!)!.decisions);
}
