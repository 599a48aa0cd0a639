/**
 * `moe bench kernels [--threads 1,2] [--json]`: one Q8_0 matmul y = W·x per way of running it, at
 * the shapes of the Grok-shaped model (the head: K 192 → N 131072; an expert: 192 → 1024, 1024 → 192)
 * and one Grok-1 expert matrix (6144 → 8192), M = 1 and 16 rows, interleaved, best of the reps:
 * f32 MatMul (on the dequantised weights), MatMulNBits with int8 activations (the default), the exact
 * path (three int8 limbs), and MatMulNBits with f32 activations (accuracy level 0, the old exact path).
 * Reports time, weight GB/s and the error against float64 (relative to max|y|).
 */
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { createSession, dequantizeQ8_0, Elem, GraphBuilder, linear, q8_0ToNBits, quantizeQ8_0, type Q8Mode } from "../model/index.js";

type Way = "f32" | "int8" | "exact" | "nbits-f32";

function values(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const u = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Float32Array.from({ length: n }, () => (u() + u() + u() - 1.5) * scale);
}

function graph(way: Way, blocks: Uint8Array, K: number, N: number): Uint8Array {
  const g = new GraphBuilder("kernel");
  const x = g.input("x", Elem.FLOAT, ["M", K]);
  let y: string;
  if (way === "nbits-f32") {
    const { codes, scales } = q8_0ToNBits(blocks, N, K);
    const b = g.u8("q", codes, [N, K / 32, 32]);
    const s = g.f32("s", scales, [N, K / 32]);
    y = g.op("MatMulNBits", [x, b, s], { K, N, bits: 8, block_size: 32, accuracy_level: 0 }, "com.microsoft");
  } else {
    const q8: Q8Mode = way === "f32" ? "dequantize" : way;
    y = linear(g, x, { kind: "q8_0", out: N, in: K, blocks }, "w", { q8 });
  }
  g.output("y", y, Elem.FLOAT, ["M", N]);
  return g.toBytes();
}

export async function run(args: string[] = []): Promise<void> {
  const { values: v } = parseArgs({ args, options: { threads: { type: "string" }, json: { type: "boolean" } }, strict: true });
  const threadsList = (v.threads ?? "1").split(",").map(Number);
  const shapes: [number, number][] = [
    [192, 131072],
    [192, 1024],
    [1024, 192],
    [6144, 8192],
  ];
  const ways: Way[] = ["f32", "int8", "exact", "nbits-f32"];
  const rows: Record<string, unknown>[] = [];
  for (const threads of threadsList)
    for (const [K, N] of shapes) {
      const blocks = quantizeQ8_0(values(N * K, 1, 0.05));
      const w = dequantizeQ8_0(blocks);
      const sessions = new Map<Way, ort.InferenceSession>();
      for (const way of ways) sessions.set(way, await createSession(graph(way, blocks, K, N), { threads }));
      const xs = new Map([1, 16].map((M) => [M, values(M * K, 2, 1)]));
      // error of each way at M = 1 against float64 (first 4096 outputs)
      const x1 = xs.get(1)!;
      const n = Math.min(N, 4096);
      const exact = Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let i = 0; i < K; i++) s += w[j * K + i]! * x1[i]!;
        return s;
      });
      const yMax = exact.reduce((a, b) => Math.max(a, Math.abs(b)), 0);
      const err = new Map<Way, number>();
      for (const way of ways) {
        const y = (await sessions.get(way)!.run({ x: new ort.Tensor("float32", x1, [1, K]) })).y!.data as Float32Array;
        err.set(way, exact.reduce((a, e, j) => Math.max(a, Math.abs(y[j]! - e)), 0) / yMax);
      }
      const best = new Map<string, number>();
      const reps = Math.max(3, Math.min(40, Math.round(2e8 / (K * N))));
      for (let r = 0; r < reps; r++)
        for (const way of ways)
          for (const [M, x] of xs) {
            if (way === "nbits-f32" && r >= 2) continue; // 50–400× slower: two runs are plenty
            const t0 = performance.now();
            await sessions.get(way)!.run({ x: new ort.Tensor("float32", x, [M, K]) });
            const ms = performance.now() - t0;
            const key = `${way}/${M}`;
            best.set(key, Math.min(best.get(key) ?? Infinity, ms));
          }
      for (const s of sessions.values()) await s.release();
      for (const way of ways)
        for (const M of xs.keys()) {
          const ms = best.get(`${way}/${M}`)!;
          const bytes = way === "f32" ? 4 * K * N : (34 / 32) * K * N;
          rows.push({ threads, K, N, M, way, ms: +ms.toFixed(3), weightGBs: +(bytes / ms / 1e6).toFixed(2), relError: +err.get(way)!.toExponential(2) });
        }
    }
  if (v.json) return console.log(JSON.stringify(rows, null, 1));
  console.log("Q8_0 matmul y = W·x, best of interleaved reps (f32 = the dequantised weights, 4 B/weight; others 1.0625 B/weight)");
  console.log("threads      K      N   M  way         ms        GB/s   error vs f64 (of max|y|)");
  for (const r of rows)
    console.log(
      `${String(r.threads).padStart(7)} ${String(r.K).padStart(6)} ${String(r.N).padStart(6)} ${String(r.M).padStart(3)}  ${String(r.way).padEnd(10)} ${String(r.ms).padStart(9)} ${String(r.weightGBs).padStart(10)}   ${r.relError}`,
    );
}
