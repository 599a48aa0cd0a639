/**
 * RoPE angles (NEOX half-split, SPEC.md f32 target §4): inv_freq_i = base^(−2i/hd),
 * θ = pos · inv_freq_i, for i < hd/2. Computed in float64, stored as f32.
 */

/**
 * The attention graph's rotate-half tables [n, hd] for the given absolute 0-based positions:
 * c = [cos θ, cos θ], s = [−sin θ, sin θ] (model/onnx/attention.ts: q' = q·c + swap(q)·s, SPEC's
 * x₁cos − x₂sin, x₂cos + x₁sin bit for bit; negation is exact).
 */
export function ropeTables(positions: ArrayLike<number>, headDim: number, base: number): { c: Float32Array; s: Float32Array } {
  const half = headDim / 2;
  const c = new Float32Array(positions.length * headDim);
  const s = new Float32Array(positions.length * headDim);
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.pow(base, (-2 * i) / headDim);
  for (let r = 0; r < positions.length; r++) {
    const p = positions[r]!;
    const o = r * headDim;
    for (let i = 0; i < half; i++) {
      const th = p * inv[i]!;
      const cv = Math.cos(th);
      const sv = Math.sin(th);
      c[o + i] = cv;
      c[o + half + i] = cv;
      s[o + i] = -sv;
      s[o + half + i] = sv;
    }
  }
  return { c, s };
}

/**
 * One step's rotate-half tables, shared by the attention blocks of every layer the step runs through:
 * computed by {@link ropeTables} the first time and again only when a block asks for other positions
 * (compared by content), so a step of L layers computes them once instead of L times. One per step
 * (never shared between steps that run concurrently); the tables it returns are read-only.
 */
export class RopeMemo {
  private positions?: Float64Array;
  private last?: { c: Float32Array; s: Float32Array };
  /** How many times the tables were computed (for tests). */
  computed = 0;

  constructor(
    readonly headDim: number,
    readonly base: number,
  ) {}

  /** {@link ropeTables}(positions, headDim, base), reused while `positions` holds the same values. */
  tables(positions: Float64Array): { c: Float32Array; s: Float32Array } {
    if (!this.last || !sameValues(this.positions!, positions)) {
      this.last = ropeTables(positions, this.headDim, this.base);
      this.positions = Float64Array.from(positions);
      this.computed++;
    }
    return this.last;
  }
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
