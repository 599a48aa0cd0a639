/**
 * Expert sparsity: the probability that a batch touches a replica, and the expected time of a layer's
 * expert phase (the slowest expert host that received rows) from each host's replicas. Pure.
 */

/** Probability that a replica with routing share `p` (fraction of tokens) is touched by a batch of `b` tokens. */
export function touchProbability(p: number, b: number): number {
  return 1 - Math.pow(1 - Math.min(1, Math.max(0, p)), b);
}

/** Expected number of distinct experts (of a layer) touched by a batch of `b` tokens, given routing shares. */
export function expectedDistinctExperts(shares: readonly number[], b: number): number {
  return shares.reduce((a, p) => a + touchProbability(p, b), 0);
}

/** One expert host's work in one layer: replicas it holds with their token shares. */
export interface HostLayerWork {
  /** Touch probability and busy seconds-if-touched per replica. */
  readonly replicas: readonly { readonly touch: number; readonly busy: number; readonly memory: number; readonly compute: number }[];
  /** Dispatch + combine time when any replica is touched, seconds (0 when co-located with the stage). */
  readonly network: number;
}

/** Expected busy seconds (weights + compute) of one host in one layer, network excluded. */
export function expectedBusy(w: HostLayerWork): number {
  return w.replicas.reduce((a, r) => a + r.touch * r.busy, 0);
}

/**
 * Expected time of a layer's expert phase: E[max over hosts of T_h], where
 * T_h = 0 if none of its replicas is touched, else network + X_h · τ̄_h
 * (X_h touched replicas, Poisson-binomial; τ̄_h their mean busy time).
 * Hosts are independent. Exact under those assumptions; `withNetwork` false
 * drops the messages (to split the breakdown).
 */
export function expectedLayerTime(works: readonly HostLayerWork[], withNetwork = true): number {
  const dists: { values: number[]; cdf: number[] }[] = [];
  for (const w of works) {
    const n = w.replicas.length;
    if (n === 0) continue;
    let pmf = [1];
    let touchSum = 0;
    let weighted = 0;
    for (const r of w.replicas) {
      const next = new Array<number>(pmf.length + 1).fill(0);
      for (let x = 0; x < pmf.length; x++) {
        next[x]! += pmf[x]! * (1 - r.touch);
        next[x + 1]! += pmf[x]! * r.touch;
      }
      pmf = next;
      touchSum += r.touch;
      weighted += r.touch * r.busy;
    }
    const mean = touchSum > 0 ? weighted / touchSum : 0;
    const net = withNetwork ? w.network : 0;
    const values: number[] = [];
    const cdf: number[] = [];
    let acc = 0;
    for (let x = 0; x <= n; x++) {
      acc += pmf[x]!;
      values.push(x === 0 ? 0 : net + x * mean);
      cdf.push(Math.min(1, acc));
    }
    dists.push({ values, cdf });
  }
  if (dists.length === 0) return 0;
  const points = [...new Set(dists.flatMap((d) => d.values))].sort((a, b) => a - b);
  const cdfAt = (d: { values: number[]; cdf: number[] }, t: number) => {
    let c = 0;
    for (let i = 0; i < d.values.length && d.values[i]! <= t; i++) c = d.cdf[i]!;
    return c;
  };
  let expected = 0;
  for (let i = 0; i + 1 < points.length; i++) {
    const t = points[i]!;
    let f = 1;
    for (const d of dists) f *= cdfAt(d, t);
    expected += (points[i + 1]! - t) * (1 - f);
  }
  return expected;
}
