/**
 * The three ways a Q8_0 matmul treats its activations (model/onnx/linear.ts), each in a real
 * onnxruntime session against float64 on the dequantised weights:
 * - "int8" (the default): activations quantized per block of 32 (scale max|x|/127). Tolerance, per
 *   output n: the rounding bound Σ_blocks (s_b/2)·Σ_{i∈b} |w_ni| (each activation moves by at most half
 *   a code step s_b/2) plus f32 slack. The test also checks the error is really there (the path is not exact).
 * - "exact" (three int8 limbs) and "dequantize" (f32 MatMul): to f32 rounding, ≤ 1e-6 of max|y|.
 */
import { describe, expect, it } from "vitest";
import { createSession, dequantizeQ8_0, Elem, f32Tensor, GraphBuilder, linear, quantizeQ8_0, type Q8Mode } from "../../model/index.js";

function values(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const u = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Float32Array.from({ length: n }, () => (u() + u() + u() - 1.5) * scale);
}

/** Run y = x·Wᵀ through a one-node graph; x [M, K] (given as [2, M/2, K] to test leading dims). */
async function run(mode: Q8Mode, blocks: Uint8Array, N: number, K: number, x: Float32Array, M: number): Promise<Float32Array> {
  const g = new GraphBuilder("lin");
  const xi = g.input("x", Elem.FLOAT, [2, "M", K]);
  g.output("y", linear(g, xi, { kind: "q8_0", out: N, in: K, blocks }, "w", { q8: mode }), Elem.FLOAT, [2, "M", N]);
  const s = await createSession(g.toBytes());
  try {
    const out = await s.run({ x: f32Tensor(x, [2, M / 2, K]) });
    expect(out.y!.dims).toEqual([2, M / 2, N]);
    return out.y!.data as Float32Array;
  } finally {
    await s.release();
  }
}

describe.each([
  { K: 256, N: 96, M: 4 },
  { K: 1024, N: 40, M: 2 },
])("Q8_0 linear K=$K N=$N M=$M", ({ K, N, M }) => {
  const blocks = quantizeQ8_0(values(N * K, 1, 0.05));
  const w = dequantizeQ8_0(blocks);
  const x = values(M * K, 2);
  // outliers and an all-zero block stress the per-block scales
  x[5] = 40;
  x[K + 70] = -1e-3;
  x.fill(0, 2 * K + 32, 2 * K + 64);
  const exact = new Float64Array(M * N);
  const bound = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let y = 0;
      let b = 0;
      for (let blk = 0; blk < K / 32; blk++) {
        let amax = 0;
        let wsum = 0;
        for (let i = blk * 32; i < blk * 32 + 32; i++) {
          y += w[n * K + i]! * x[m * K + i]!;
          amax = Math.max(amax, Math.abs(x[m * K + i]!));
          wsum += Math.abs(w[n * K + i]!);
        }
        b += (amax / 127 / 2) * wsum;
      }
      exact[m * N + n] = y;
      bound[m * N + n] = b;
    }
  const yMax = exact.reduce((a, v) => Math.max(a, Math.abs(v)), 0);

  it("int8 (default): within the activation-rounding bound, and not exact", async () => {
    const y = await run("int8", blocks, N, K, x, M);
    let worstRel = 0;
    y.forEach((v, i) => {
      const err = Math.abs(v - exact[i]!);
      expect(err).toBeLessThanOrEqual(bound[i]! + 1e-5 * yMax);
      worstRel = Math.max(worstRel, err / yMax);
    });
    expect(worstRel).toBeGreaterThan(1e-5);
  });

  it.each(["exact", "dequantize"] as const)("%s: to f32 rounding (≤ 1e-6 of max|y|)", async (mode) => {
    const y = await run(mode, blocks, N, K, x, M);
    y.forEach((v, i) => expect(Math.abs(v - exact[i]!)).toBeLessThanOrEqual(1e-6 * yMax));
  });
});
