/**
 * Child process of `test/wide/full-width.test.ts`: the engine's first-token logits of the model in
 * `argv[2]` for token `argv[3]` against the float64 reference on the dequantised weights. Run apart
 * because both take minutes of synchronous work at full width, which would starve the test worker's
 * event loop (vitest's worker RPC times out: "Timeout calling onTaskUpdate").
 *
 * Prints one JSON line: `{ relMaxError, argmaxGot, argmaxWant, loadSeconds }`.
 */
import { Engine, openModel } from "../../model/index.js";
import { argmax, relMaxError } from "../reference/compare.js";
import { oneTokenLogits } from "./one-token-ref.js";

const [dir, tokenArg] = process.argv.slice(2);
if (!dir || tokenArg === undefined) throw new Error("usage: first-token-child.ts MODEL_DIR TOKEN");
const token = Number(tokenArg);
const m = openModel(dir);
try {
  const want = oneTokenLogits(m.config, m.weights, token);
  const t0 = performance.now();
  const engine = await Engine.create(m.config, m.weights, { threads: 2, exactQ8: true });
  const loadSeconds = (performance.now() - t0) / 1000;
  try {
    const got = await engine.forward([{ seq: engine.newSequence(), tokens: [token] }]);
    console.log(JSON.stringify({ relMaxError: relMaxError(got, want), argmaxGot: argmax(got), argmaxWant: argmax(want), loadSeconds }));
  } finally {
    await engine.close();
  }
} finally {
  m.close();
}
