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
