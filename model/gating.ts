/**
 * MoE gating and combine of SPEC.md's f32 target, as pure functions shared by
 * the single-process engine and the distributed router:
 * p = softmax(W_router·m) over all experts, top-k with ties to the lower
 * index, gates = the selected probabilities (NOT renormalised), and
 * y = Σ_j gate_j · expert_j(m) accumulated in f32 in rank order.
 */

/** Top-k routing of N rows. */
export interface Routing {
  /** Experts selected per row: [N, k], best first. */
  readonly experts: Int32Array;
  /** Their gates (softmax probabilities, f32): [N, k]. */
  readonly gates: Float32Array;
  readonly k: number;
  readonly rows: number;
}

/** Rows sent to one expert. */
export interface ExpertGroup {
  readonly expert: number;
  /** Row indices (ascending) routed to this expert. */
  readonly rows: Int32Array;
}

/**
 * Route rows m [N, D] with the router matrix [E, D]. Logits are dot products
 * accumulated in f64 and rounded to f32; the softmax is evaluated in f64 and
 * rounded to f32.
 */
export function routeRows(m: Float32Array, router: Float32Array, nExperts: number, k: number): Routing {
  const D = router.length / nExperts;
  const N = m.length / D;
  const experts = new Int32Array(N * k);
  const gates = new Float32Array(N * k);
  const logits = new Float64Array(nExperts);
  const probs = new Float32Array(nExperts);
  for (let r = 0; r < N; r++) {
    const o = r * D;
    let max = -Infinity;
    for (let e = 0; e < nExperts; e++) {
      let s = 0;
      const w = e * D;
      for (let i = 0; i < D; i++) s += router[w + i]! * m[o + i]!;
      logits[e] = Math.fround(s);
      if (logits[e]! > max) max = logits[e]!;
    }
    let sum = 0;
    for (let e = 0; e < nExperts; e++) sum += Math.exp(logits[e]! - max);
    for (let e = 0; e < nExperts; e++) probs[e] = Math.exp(logits[e]! - max) / sum;
    topK(probs, k, experts, gates, r * k);
  }
  return { experts, gates, k, rows: N };
}

/** Write the k largest of p (ties to the lower index) into experts/gates at `at`. */
function topK(p: Float32Array, k: number, experts: Int32Array, gates: Float32Array, at: number): void {
  for (let j = 0; j < k; j++) {
    let best = -1;
    for (let e = 0; e < p.length; e++) {
      if (isTaken(experts, at, j, e)) continue;
      if (best < 0 || p[e]! > p[best]!) best = e;
    }
    experts[at + j] = best;
    gates[at + j] = p[best]!;
  }
}

function isTaken(experts: Int32Array, at: number, j: number, e: number): boolean {
  for (let i = 0; i < j; i++) if (experts[at + i] === e) return true;
  return false;
}

/** Group rows by the experts they go to (experts ascending, rows ascending); empty experts omitted. */
export function groupByExpert(routing: Routing, nExperts: number): ExpertGroup[] {
  const buckets: number[][] = Array.from({ length: nExperts }, () => []);
  for (let r = 0; r < routing.rows; r++) for (let j = 0; j < routing.k; j++) buckets[routing.experts[r * routing.k + j]!]!.push(r);
  const groups: ExpertGroup[] = [];
  buckets.forEach((rows, expert) => rows.length && groups.push({ expert, rows: Int32Array.from(rows) }));
  return groups;
}

/**
 * Gather the rows of `x` [N, D] listed in `rows` into `out` [rows.length, D] (by default a new array; a
 * view of a larger buffer gathers in place, without a copy) and return it.
 */
export function gatherRows(x: Float32Array, dModel: number, rows: ArrayLike<number>, out = new Float32Array(rows.length * dModel)): Float32Array {
  if (out.length < rows.length * dModel) throw new RangeError(`gatherRows: out holds ${out.length} values, ${rows.length} rows of ${dModel} need ${rows.length * dModel}`);
  for (let i = 0; i < rows.length; i++) out.set(x.subarray(rows[i]! * dModel, (rows[i]! + 1) * dModel), i * dModel);
  return out;
}

/**
 * Combine expert outputs: y[r] = Σ_j gate[r,j] · out_{e_j}[r] in f32, j in rank order.
 * `outputs` maps expert → its output rows [group.rows.length, D], in the group's row order.
 */
export function combine(routing: Routing, groups: readonly ExpertGroup[], outputs: ReadonlyMap<number, Float32Array>, dModel: number): Float32Array {
  const slot = new Map<number, Map<number, number>>();
  for (const g of groups) {
    const s = new Map<number, number>();
    g.rows.forEach((r, i) => s.set(r, i));
    slot.set(g.expert, s);
  }
  const y = new Float32Array(routing.rows * dModel);
  const f = Math.fround;
  for (let r = 0; r < routing.rows; r++) {
    const o = r * dModel;
    for (let j = 0; j < routing.k; j++) {
      const e = routing.experts[r * routing.k + j]!;
      const gate = routing.gates[r * routing.k + j]!;
      const out = outputs.get(e);
      const i = slot.get(e)?.get(r);
      if (!out || i === undefined) throw new Error(`combine: no output of expert ${e} for row ${r}`);
      const src = i * dModel;
      for (let c = 0; c < dModel; c++) y[o + c] = f(y[o + c]! + f(gate * out[src + c]!));
    }
  }
  return y;
}
