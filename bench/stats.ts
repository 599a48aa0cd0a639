/** Statistics the benchmarks share. Pure. */

/**
 * The median of `xs` (any order; not modified): the middle value, or the mean of the two middle values
 * for an even count; NaN when empty.
 */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The ratio of two sides measured in alternating order (rep 0: side a first, rep 1: side b first, ...),
 * with the effect of going first cancelled: the median over consecutive pairs of reps of the geometric
 * mean of the pair's two ratios a[i] ÷ b[i]; an odd last rep counts alone. NaN when empty.
 */
export function alternatedRatio(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError(`alternatedRatio: ${a.length} and ${b.length} reps`);
  const r = a.map((x, i) => x / b[i]!);
  const pairs: number[] = [];
  for (let i = 0; i < r.length; i += 2) pairs.push(i + 1 < r.length ? Math.sqrt(r[i]! * r[i + 1]!) : r[i]!);
  return median(pairs);
}
