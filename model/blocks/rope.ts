/**
 * RoPE angles (NEOX half-split, SPEC.md f32 target §4): inv_freq_i = base^(−2i/hd),
 * θ = pos · inv_freq_i, for i < hd/2. Computed in float64, stored as f32.
 */

/** Fill cos/sin [n, hd/2] for the given absolute 0-based positions. */
export function ropeTables(positions: ArrayLike<number>, headDim: number, base: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(positions.length * half);
  const sin = new Float32Array(positions.length * half);
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.pow(base, (-2 * i) / headDim);
  for (let r = 0; r < positions.length; r++) {
    const p = positions[r]!;
    for (let i = 0; i < half; i++) {
      const th = p * inv[i]!;
      cos[r * half + i] = Math.cos(th);
      sin[r * half + i] = Math.sin(th);
    }
  }
  return { cos, sin };
}
