/**
 * Expert placement: which host(s) hold each (layer, expert).
 *
 * 1. Replicas (EPLB-style, only when routing shares are skewed): in each
 *    layer the expert with the most work per replica gets another replica
 *    while one replica of it would take longer, even on the fastest host,
 *    than the layer's speed-balanced time — within a per-layer budget and the
 *    spare memory.
 * 2. Quotas: physical slots per host in proportion to its speed, capped by
 *    the slots that fit in its memory (water-filling), rounded by largest
 *    remainder.
 * 3. Per layer, replicas in decreasing work go to the host that would finish
 *    its share of the layer first ((load + work) ÷ speed), with each host
 *    paced along its quota so that every layer sees every host class; a host
 *    never gets more slots than fit, never two replicas of one expert.
 * 4. A replicated expert's tokens are split across its replicas in proportion
 *    to the holders' speeds (the router's replica weights).
 *
 * Pure and deterministic: ties go to the lower host index.
 */

/** An expert host as the placement sees it. */
export interface ExpertHost {
  /** Relative speed, 1 / (seconds per touched expert). */
  readonly speed: number;
  /** Expert slots that fit in its free memory. */
  readonly slots: number;
}

/** Input of {@link placeExperts}. */
export interface ExpertPlacementProblem {
  readonly layers: number;
  readonly experts: number;
  /** `shares[layer][expert]`: fraction of tokens routed there (each layer sums to top-k). */
  readonly shares: readonly (readonly number[])[];
  readonly hosts: readonly ExpertHost[];
  /** Extra replicas allowed per layer (0: no replication). */
  readonly replicasPerLayer: number;
}

/** One logical expert and its physical replicas. */
export interface ExpertSlot {
  readonly layer: number;
  readonly expert: number;
  /** Host indices, ascending. */
  readonly hosts: readonly number[];
  /** Fraction of the expert's tokens each replica should get (sums to 1), aligned with `hosts`. */
  readonly weights: readonly number[];
}

/** Result of {@link placeExperts}. */
export type ExpertPlacementResult =
  | { readonly ok: true; readonly experts: readonly ExpertSlot[]; readonly slotsUsed: readonly number[]; readonly replicas: number }
  | { readonly ok: false; readonly missingSlots: number };

/**
 * Split `total` integer units over hosts in proportion to `speeds`, none above
 * its cap (water-filling, then largest remainder). Null if Σ caps < total.
 */
export function waterfill(speeds: readonly number[], caps: readonly number[], total: number): number[] | null {
  const n = speeds.length;
  const capSum = caps.reduce((a, c) => a + c, 0);
  if (capSum < total) return null;
  const share = new Array<number>(n).fill(0);
  const order = [...Array(n).keys()].filter((i) => caps[i]! > 0).sort((a, b) => caps[a]! / speeds[a]! - caps[b]! / speeds[b]! || a - b);
  let rest = total;
  let speedSum = order.reduce((a, i) => a + speeds[i]!, 0);
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const fair = (rest * speeds[i]!) / speedSum;
    if (caps[i]! <= fair) {
      share[i] = caps[i]!;
      rest -= caps[i]!;
      speedSum -= speeds[i]!;
    } else {
      for (const j of order.slice(k)) share[j] = (rest * speeds[j]!) / speedSum;
      break;
    }
  }
  const q = share.map((x, i) => Math.min(caps[i]!, Math.floor(x + 1e-9)));
  let missing = total - q.reduce((a, b) => a + b, 0);
  const byRemainder = [...Array(n).keys()].sort((a, b) => share[b]! - q[b]! - (share[a]! - q[a]!) || a - b);
  while (missing > 0) {
    let moved = false;
    for (const i of byRemainder) {
      if (missing === 0) break;
      if (q[i]! < caps[i]!) (q[i] = q[i]! + 1), missing--, (moved = true);
    }
    if (!moved) return null;
  }
  return q;
}

/** Replica counts per expert of one layer (EPLB-style greedy on work per replica). */
export function replicaCounts(shares: readonly number[], speeds: readonly number[], budget: number, maxPerExpert: number): number[] {
  const r = shares.map(() => 1);
  const speedSum = speeds.reduce((a, s) => a + s, 0);
  const fastest = Math.max(...speeds);
  const balanced = shares.reduce((a, w) => a + w, 0) / speedSum;
  for (let k = 0; k < budget; k++) {
    let best = -1;
    for (let e = 0; e < shares.length; e++) if (r[e]! < maxPerExpert && (best < 0 || shares[e]! / r[e]! > shares[best]! / r[best]!)) best = e;
    if (best < 0 || shares[best]! / r[best]! / fastest <= balanced * (1 + 1e-9)) break;
    r[best] = r[best]! + 1;
  }
  return r;
}

/** Place every (layer, expert) on at least one host (see the file comment). */
export function placeExperts(p: ExpertPlacementProblem): ExpertPlacementResult {
  const H = p.hosts.length;
  const base = p.layers * p.experts;
  const capSum = p.hosts.reduce((a, h) => a + h.slots, 0);
  if (capSum < base || H === 0) return { ok: false, missingSlots: Math.max(1, base - capSum) };
  const speeds = p.hosts.map((h) => h.speed);
  const perLayerBudget = Math.min(p.replicasPerLayer, Math.floor((capSum - base) / p.layers));
  const counts = p.shares.map((s) => replicaCounts(s, speeds, perLayerBudget, Math.max(1, p.hosts.filter((h) => h.slots > 0).length)));
  const items = counts.map((c) => c.reduce((a, b) => a + b, 0));
  const total = items.reduce((a, b) => a + b, 0);
  const quota = waterfill(speeds, p.hosts.map((h) => h.slots), total)!;
  const used = new Array<number>(H).fill(0);
  const experts: ExpertSlot[] = [];
  let cum = 0;
  let replicas = 0;
  for (let l = 0; l < p.layers; l++) {
    cum += items[l]!;
    const allowance = quota.map((q, h) => Math.ceil((q * cum) / total - 1e-9) - used[h]!);
    const load = new Array<number>(H).fill(0);
    const holders: number[][] = Array.from({ length: p.experts }, () => []);
    const work: { e: number; w: number }[] = [];
    counts[l]!.forEach((r, e) => {
      for (let k = 0; k < r; k++) work.push({ e, w: p.shares[l]![e]! / r });
    });
    work.sort((a, b) => b.w - a.w || a.e - b.e);
    for (const { e, w } of work) {
      const pick = (paced: boolean) => {
        let best = -1;
        let bestT = Infinity;
        let bestFill = Infinity;
        for (let h = 0; h < H; h++) {
          if (holders[e]!.includes(h) || used[h]! >= p.hosts[h]!.slots) continue;
          if (paced && allowance[h]! <= 0) continue;
          const t = (load[h]! + w) / speeds[h]!;
          const fill = quota[h]! > 0 ? used[h]! / quota[h]! : Infinity;
          if (t < bestT - 1e-12 || (Math.abs(t - bestT) <= 1e-12 && fill < bestFill)) (best = h), (bestT = t), (bestFill = fill);
        }
        return best;
      };
      let h = pick(true);
      if (h < 0) h = pick(false);
      if (h < 0) {
        if (holders[e]!.length === 0) return { ok: false, missingSlots: 1 };
        continue;
      }
      holders[e]!.push(h);
      load[h] = load[h]! + w;
      used[h] = used[h]! + 1;
      allowance[h] = allowance[h]! - 1;
    }
    for (let e = 0; e < p.experts; e++) {
      const hs = holders[e]!.sort((a, b) => a - b);
      const sp = hs.reduce((a, h) => a + speeds[h]!, 0);
      replicas += hs.length - 1;
      experts.push({ layer: l, expert: e, hosts: hs, weights: hs.map((h) => speeds[h]! / sp) });
    }
  }
  return { ok: true, experts, slotsUsed: used, replicas };
}
