/**
 * `npm run bench -- engine`: prefill and decode tokens/s of grok-1-tiny at
 * batch 1 and 16, f32 and Q8_0, and the decode rate as a fraction of this
 * machine's memory-bandwidth limit (weight bytes read per token ÷ measured
 * copy bandwidth). Everything is measured side by side in one run.
 */
import { join } from "node:path";
import { existsSync } from "node:fs";
import { accountModel, Engine, openModel, presetConfig, type EngineSequence, type ModelConfig } from "../model/index.js";
import { DEFAULT_TINY_MODEL_DIR, ensureTinyModel, generateModel } from "../factory/index.js";

const PROMPT = 64;
const DECODE_STEPS = 32;

/** Copy bandwidth in bytes/s (read + write) from repeated 128 MiB TypedArray copies. */
export function copyBandwidth(): number {
  const n = 32 * 1024 * 1024;
  const a = new Float32Array(n).fill(1);
  const b = new Float32Array(n);
  b.set(a); // warm-up
  const t0 = performance.now();
  const reps = 8;
  for (let i = 0; i < reps; i++) b.set(a);
  const s = (performance.now() - t0) / 1000;
  return (2 * reps * a.byteLength) / s;
}

/** Weight bytes read by one decode step at batch B: attention + head + the distinct experts the batch touches. */
function bytesPerStep(cfg: ModelConfig, dtype: "f32" | "q8_0", batch: number): number {
  const acc = accountModel(cfg, dtype);
  const distinct = cfg.nExperts * (1 - Math.pow(1 - cfg.nExpertsUsed / cfg.nExperts, batch));
  const perLayer = acc.layers.reduce((a, l) => a + l.attentionBytes + l.routerBytes + l.normBytes + distinct * l.expertBytes, 0);
  return perLayer + acc.embeddingBytes + acc.finalNormBytes;
}

async function measure(engine: Engine, batch: number): Promise<{ prefillTps: number; decodeTps: number }> {
  const cfg = engine.config;
  const tokens = (b: number) => Array.from({ length: PROMPT }, (_, i) => 260 + ((b * 131 + i * 17) % (cfg.vocabSize - 260)));
  // warm-up
  const w = engine.newSequence();
  await engine.forward([{ seq: w, tokens: tokens(0).slice(0, 8) }]);
  engine.release(w);
  const seqs: EngineSequence[] = Array.from({ length: batch }, () => engine.newSequence());
  let t0 = performance.now();
  await engine.forward(seqs.map((seq, b) => ({ seq, tokens: tokens(b) })));
  const prefillTps = (batch * PROMPT) / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let s = 0; s < DECODE_STEPS; s++) await engine.forward(seqs.map((seq, b) => ({ seq, tokens: [300 + ((b + s) % 500)] })));
  const decodeTps = (batch * DECODE_STEPS) / ((performance.now() - t0) / 1000);
  seqs.forEach((s) => engine.release(s));
  return { prefillTps, decodeTps };
}

export async function run(): Promise<void> {
  const cfg = presetConfig("grok-1-tiny");
  const f32Dir = ensureTinyModel();
  const q8Dir = join(DEFAULT_TINY_MODEL_DIR, "..", "grok-1-tiny-q8_0");
  if (!existsSync(join(q8Dir, "model.gguf"))) generateModel({ config: cfg, outDir: q8Dir, format: "gguf", dtype: "q8_0", seed: 0 });
  const bw = copyBandwidth();
  console.log(`copy bandwidth: ${(bw / 1e9).toFixed(2)} GB/s (read+write); prompt ${PROMPT} tokens, ${DECODE_STEPS} decode steps; 1 onnxruntime thread`);
  console.log("(q8_0 = MatMulNBits with f32 activations, lossless; q8_0+i8a = --int8-activations, accuracy level 4;");
  console.log(" q8_0+deq = --dequantize-q8: Q8_0 expanded to f32 at load, same numbers; MB/token counts the Q8_0 file's bytes)");
  console.log("dtype     batch  prefill tok/s  decode tok/s  weight MB/token  bandwidth-limit tok/s  fraction of limit");
  const variants = [
    ["f32", "f32", f32Dir, false],
    ["q8_0", "q8_0", q8Dir, false],
    ["q8_0+i8a", "q8_0", q8Dir, true],
    ["q8_0+deq", "q8_0", q8Dir, false],
  ] as const;
  for (const [label, dtype, dir, int8Activations] of variants) {
    const m = openModel(dir);
    const dequantizeQ8 = label === "q8_0+deq";
    const engine = await Engine.create(m.config, m.weights, { threads: 1, int8Activations, dequantizeQ8 });
    for (const batch of [1, 16]) {
      const r = await measure(engine, batch);
      const perToken = bytesPerStep(cfg, dtype, batch) / batch;
      const limit = bw / perToken;
      console.log(
        `${label.padEnd(9)} ${String(batch).padStart(5)}  ${r.prefillTps.toFixed(0).padStart(13)}  ${r.decodeTps.toFixed(1).padStart(12)}  ${(perToken / 1e6).toFixed(2).padStart(15)}  ${limit.toFixed(0).padStart(21)}  ${(r.decodeTps / limit).toFixed(3).padStart(17)}`,
      );
    }
    await engine.close();
    m.close();
  }
}
