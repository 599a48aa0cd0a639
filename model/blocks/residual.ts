/** Small f32 glue math on rows (plain TypeScript). */

/** h[r] += rms(y[r])·gain for each row r of h, y [N, D]; sums in f64, results rounded to f32. */
export function addNormedResidual(h: Float32Array, y: Float32Array, gain: Float32Array, eps: number): void {
  const D = gain.length;
  const N = h.length / D;
  for (let r = 0; r < N; r++) {
    const o = r * D;
    let ss = 0;
    for (let i = 0; i < D; i++) ss += y[o + i]! * y[o + i]!;
    const inv = 1 / Math.sqrt(ss / D + eps);
    for (let i = 0; i < D; i++) h[o + i] = h[o + i]! + Math.fround(y[o + i]! * inv * gain[i]!);
  }
}

