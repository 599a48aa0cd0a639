/**
 * Child process of `moe bench llama`: llama.cpp (bench/llama-runner.ts) in a process of its own, so that its
 * threads and memory stay apart from the engine measured in the parent.
 *
 * argv: ENTRY MODEL_GGUF THREADS(1,2) CONTEXT_SIZE BATCH_SIZE. IPC: sends `{ready: info}` once loaded (or
 * `{error}` and exits); answers `{generate: {threads, prompt, steps}}` with `{result}` or `{error}`; "close"
 * closes and exits; exits too when the parent goes.
 */
import { LlamaRunner } from "./llama-runner.js";

const [entry, modelPath, threadsArg, ctxArg, batchArg] = process.argv.slice(2);
const errorOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const runner = await LlamaRunner.open(entry!, modelPath!, threadsArg!.split(",").map(Number), Number(ctxArg), Number(batchArg)).catch((e: unknown) => {
  process.send!({ error: `llama.cpp could not load ${modelPath}: ${errorOf(e)}` }, () => process.exit(1));
  return new Promise<never>(() => {});
});
let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await runner.close();
  process.exit(0);
};
process.on("message", (m: unknown) => {
  if (m === "close") return void stop();
  const g = (m as { generate?: { threads: number; prompt: number[]; steps: number } }).generate;
  if (g)
    runner.generate(g.threads, g.prompt, g.steps).then(
      (result) => process.send!({ result }),
      (e: unknown) => process.send!({ error: errorOf(e) }),
    );
});
process.on("disconnect", () => void stop());
process.send!({ ready: runner.info() });
