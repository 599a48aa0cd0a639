/**
 * Replica choice (pure): among the hosts holding an expert, prefer healthy
 * ones with the fewest rows in flight; a host that failed is avoided for a
 * cool-down period, then tried again. A group of rows of a replicated expert
 * is split across its healthy replicas by their weights ({@link splitShares}).
 */

/** What the router knows about one expert host. */
export interface HostHealth {
  /** Rows dispatched to this host and not yet answered. */
  inflightRows: number;
  /** Unix ms until which the host is considered down (0 = healthy). */
  downUntil: number;
  /** Consecutive failures. */
  failures: number;
}

/** Order `hosts` by preference at time `now` (ms): healthy first, then fewest rows in flight, then placement order. */
export function rankReplicas(hosts: readonly string[], health: ReadonlyMap<string, HostHealth>, now: number): string[] {
  const state = (h: string) => health.get(h) ?? { inflightRows: 0, downUntil: 0, failures: 0 };
  return hosts
    .map((h, i) => ({ h, i, s: state(h) }))
    .sort((a, b) => {
      const da = a.s.downUntil > now ? 1 : 0;
      const db = b.s.downUntil > now ? 1 : 0;
      return da - db || a.s.inflightRows - b.s.inflightRows || a.i - b.i;
    })
    .map((x) => x.h);
}

/** Cool-down after a failure: 500 ms doubling per consecutive failure, capped at 10 s. */
export function coolDownMs(failures: number): number {
  return Math.min(10_000, 500 * 2 ** Math.max(0, failures - 1));
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
