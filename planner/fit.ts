/**
 * The two-unknown fits of `moe plan --calibrate` (calibrate.ts): a linear pair with both terms ≥ 0
 * ({@link fitLinear}), and the message costs μ, β ≥ 0 from two round-trip targets ({@link fitMessages}). Pure.
 */

/**
 * Solve a·x + b·y = t for two rows [a, b, t] with x, y ≥ 0. When the exact solution has a negative term,
 * the better (in relative squared error) of the one-term fits, y = 0 or x = 0, each clamped at 0.
 * @returns [x, y], both ≥ 0
 */
export function fitLinear(rows: readonly (readonly [number, number, number])[]): [number, number] {
  const [[a1, b1, t1], [a2, b2, t2]] = rows as [[number, number, number], [number, number, number]];
  const det = a1 * b2 - a2 * b1;
  if (Math.abs(det) > 1e-12 * Math.abs(a1 * b2)) {
    const x = (t1 * b2 - t2 * b1) / det;
    const y = (a1 * t2 - a2 * t1) / det;
    if (x >= 0 && y >= 0) return [x, y];
  }
  // least squares in relative error of one term: k = Σ(c/t) ÷ Σ(c/t)², targets ≤ 0 left out
  const used = rows.filter(([, , t]) => t > 0);
  const one = (c: (r: readonly [number, number, number]) => number) => {
    const den = used.reduce((s, r) => s + (c(r) / r[2]) ** 2, 0);
    return den > 0 ? Math.max(0, used.reduce((s, r) => s + c(r) / r[2], 0) / den) : 0;
  };
  const err = (x: number, y: number) => rows.reduce((s, [a, b, t]) => s + ((a * x + b * y - t) / (Math.abs(t) || 1)) ** 2, 0);
  const onlyX: [number, number] = [one(([a]) => a), 0];
  const onlyY: [number, number] = [0, one(([, b]) => b)];
  return err(...onlyY) < err(...onlyX) - 1e-15 ? onlyY : onlyX;
}

/**
 * Fit μ (s per message) and β (s per byte) ≥ 0 so that `f(μ, β, rows)` meets each target:
 * Newton on the two equations (f is piecewise linear in both), then, if one would be negative,
 * the other alone by golden-section search on the relative squared error.
 */
export function fitMessages(f: (mu: number, beta: number, rows: number) => number, targets: readonly { rows: number; seconds: number }[]): [number, number] {
  const err = (mu: number, beta: number) => targets.reduce((s, t) => s + ((f(mu, beta, t.rows) - t.seconds) / t.seconds) ** 2, 0);
  let [mu, beta] = [50e-6, 0.5e-9];
  const [t1, t2] = [targets[0]!, targets[targets.length - 1]!];
  for (let i = 0; i < 40; i++) {
    const r1 = f(mu, beta, t1.rows) - t1.seconds;
    const r2 = f(mu, beta, t2.rows) - t2.seconds;
    if (Math.abs(r1) < 1e-6 * t1.seconds && Math.abs(r2) < 1e-6 * t2.seconds) break;
    const [hm, hb] = [Math.max(1e-7, mu * 1e-3), Math.max(1e-13, beta * 1e-3)];
    const j11 = (f(mu + hm, beta, t1.rows) - t1.seconds - r1) / hm;
    const j12 = (f(mu, beta + hb, t1.rows) - t1.seconds - r1) / hb;
    const j21 = (f(mu + hm, beta, t2.rows) - t2.seconds - r2) / hm;
    const j22 = (f(mu, beta + hb, t2.rows) - t2.seconds - r2) / hb;
    const det = j11 * j22 - j12 * j21;
    if (!Number.isFinite(det) || Math.abs(det) < 1e-300) break;
    const dm = (-r1 * j22 + r2 * j12) / det;
    const db = (-r2 * j11 + r1 * j21) / det;
    [mu, beta] = [Math.max(0, mu + dm), Math.max(0, beta + db)];
  }
  const best: [number, number][] = [[mu, beta]];
  const hiMu = Math.max(...targets.map((t) => t.seconds));
  best.push([golden((m) => err(m, 0), 0, hiMu), 0]);
  const bytesHi = hiMu / 1e3; // β below 1 ms per kB
  best.push([0, golden((b) => err(0, b), 0, bytesHi)]);
  return best.reduce((a, b) => (err(b[0], b[1]) < err(a[0], a[1]) - 1e-12 ? b : a));
}

/** Minimum of `g` on [a, b] by golden-section search (g unimodal). */
function golden(g: (x: number) => number, a: number, b: number): number {
  const r = (Math.sqrt(5) - 1) / 2;
  let x1 = b - r * (b - a);
  let x2 = a + r * (b - a);
  let g1 = g(x1);
  let g2 = g(x2);
  for (let i = 0; i < 100; i++) {
    if (g1 < g2) {
      b = x2;
      x2 = x1;
      g2 = g1;
      x1 = b - r * (b - a);
      g1 = g(x1);
    } else {
      a = x1;
      x1 = x2;
      g1 = g2;
      x2 = a + r * (b - a);
      g2 = g(x2);
    }
  }
  return (a + b) / 2;
}
