/** This machine's memory read bandwidth as onnxruntime reaches it: ReduceSum over a 256 MiB f32 tensor. */
import * as ort from "onnxruntime-node";
import { Elem, GraphBuilder, sessionOptions } from "../model/index.js";

const N = 64 * 1024 * 1024;

/** Best of 8 runs per thread count, bytes read per second. */
export async function readBandwidth(threads: readonly number[]): Promise<{ threads: number; bytesPerSecond: number }[]> {
  const g = new GraphBuilder("bandwidth");
  const x = g.input("x", Elem.FLOAT, [1024, N / 1024]);
  g.output("y", g.op("ReduceSum", [x, g.i64("axis", [1])], { keepdims: 0 }), Elem.FLOAT, [1024]);
  const model = g.toBytes();
  const data = new ort.Tensor("float32", new Float32Array(N).fill(1), [1024, N / 1024]);
  const out: { threads: number; bytesPerSecond: number }[] = [];
  for (const t of threads) {
    const s = await ort.InferenceSession.create(model, sessionOptions({ threads: t }));
    try {
      await s.run({ x: data });
      let best = Infinity;
      for (let r = 0; r < 8; r++) {
        const t0 = performance.now();
        await s.run({ x: data });
        best = Math.min(best, performance.now() - t0);
      }
      out.push({ threads: t, bytesPerSecond: (N * 4) / (best / 1000) });
    } finally {
      await s.release();
    }
  }
  return out;
}
