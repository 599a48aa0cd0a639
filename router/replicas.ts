/**
 * Replica choice (pure): among the hosts holding an expert, prefer healthy
 * ones with the fewest rows in flight; a host that failed is avoided for a
 * cool-down period, then tried again.
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
