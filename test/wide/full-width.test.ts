/**
 * `npm run test:wide`: Grok-1 at full width (d_model 6144, 48/8 heads × 128, ffn 32768, 8 experts,
 * vocab 131072) with one layer, on this machine.
 *
 * - `moe model init --preset grok-1 --layers 1 --dtype q8_0` streams a 6.1 GB GGUF;
 * - the engine's first-token logits (exactQ8: Q8_0 matmuls lossless to f32 rounding) equal a float64
 *   reference on the dequantised weights;
 * - `moe generate` (default int8 activations) runs it as a real process (peak RSS and tokens/s measured
 *   with /usr/bin/time -v);
 * - an f32 model whose tensors exceed ONNX's 2 GB protobuf limit (the 3.2 GB unembedding, 2.4 GB
 *   expert graphs) loads and matches the reference too.
 *
 * Figures go to `<dir>/report.json` and the log. Models are written under $MOE_WIDE_DIR (default
 * .moe/wide) and deleted afterwards unless MOE_WIDE_KEEP=1.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Engine, openModel, parseModelConfig, presetConfig, type ModelConfig } from "../../model/index.js";
import { argmax, relMaxError } from "../reference/compare.js";
import { oneTokenLogits } from "./one-token-ref.js";

const DIR = path.resolve(process.env.MOE_WIDE_DIR ?? ".moe/wide");
const TOKENIZER = path.resolve("../shared/grok-1/tokenizer.model");
const report: Record<string, unknown> = {};
mkdirSync(DIR, { recursive: true });
afterAll(() => {
  writeFileSync(path.join(DIR, "report.json"), JSON.stringify(report, null, 2) + "\n");
  console.log(JSON.stringify(report, null, 2));
  if (process.env.MOE_WIDE_KEEP !== "1") for (const d of ["grok-1-1L-q8_0", "grok-1-wide-f32"]) rmSync(path.join(DIR, d), { recursive: true, force: true });
});

interface Timed {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size, bytes. */
  peakRss: number;
  wallSeconds: number;
}

/** Run `moe ...` under /usr/bin/time -v. */
function moe(...args: string[]): Timed {
  const t0 = performance.now();
  const r = spawnSync("/usr/bin/time", ["-v", process.execPath, "--import", "tsx", "cli/main.ts", ...args], { cwd: process.cwd(), encoding: "utf8", maxBuffer: 1 << 26 });
  const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, peakRss: kb ? Number(kb[1]) * 1024 : NaN, wallSeconds: (performance.now() - t0) / 1000 };
}

const gib = (b: number) => Math.round((b / 2 ** 30) * 100) / 100;

/** The engine's logits for `token` at position 0 against the float64 reference. */
async function checkFirstToken(dir: string, token: number, tol: number): Promise<{ relMaxError: number; loadSeconds: number }> {
  const m = openModel(dir);
  try {
    const want = oneTokenLogits(m.config, m.weights, token);
    const t0 = performance.now();
    const engine = await Engine.create(m.config, m.weights, { threads: 2, exactQ8: true });
    const loadSeconds = (performance.now() - t0) / 1000;
    try {
      const got = await engine.forward([{ seq: engine.newSequence(), tokens: [token] }]);
      const err = relMaxError(got, want);
      expect(argmax(got)).toBe(argmax(want));
      expect(err).toBeLessThanOrEqual(tol);
      return { relMaxError: err, loadSeconds };
    } finally {
      await engine.close();
    }
  } finally {
    m.close();
  }
}

function timing(stderr: string): { loadSeconds: number; decodeTokensPerSecond: number } {
  const m = /moe: load ([\d.]+) s, prefill \d+ tokens [\d.-]+ s, decode \d+ tokens at ([\d.]+|NaN) tokens\/s/.exec(stderr);
  expect(m, stderr.slice(-2000)).not.toBeNull();
  return { loadSeconds: Number(m![1]), decodeTokensPerSecond: Number(m![2]) };
}

describe("Grok-1 at full width, 1 layer, Q8_0", () => {
  const dir = path.join(DIR, "grok-1-1L-q8_0");

  it("moe model init streams it (never a whole f32 tensor in memory)", () => {
    rmSync(dir, { recursive: true, force: true });
    const r = moe("model", "init", "--preset", "grok-1", "--layers", "1", "--dtype", "q8_0", "--tokenizer", TOKENIZER, "--out", dir);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    expect(r.stdout).toContain("wrote grok-1-1L");
    const bytes = Number(/\(([\d,]+) bytes\)/.exec(r.stdout)![1]!.replace(/,/g, ""));
    report.init = { model: "grok-1 --layers 1 --dtype q8_0", fileBytes: bytes, seconds: Math.round(r.wallSeconds), peakRssGiB: gib(r.peakRss) };
    expect(bytes).toBeGreaterThan(6e9);
    // the largest f32 tensor (the embedding) alone is 3.2 GB: streaming keeps the writer far below it
    expect(r.peakRss).toBeLessThan(1.5 * 2 ** 30);
  });

  it("the engine's first-token logits match the float64 reference on the dequantised weights", async () => {
    report.q8_0Reference = await checkFirstToken(dir, 422, 1e-3);
  });

  it("runs through moe generate (real tokenizer, int8 activations); peak RSS and tokens/s", () => {
    const r = moe("generate", "--model", dir, "The answer to life the universe and everything is", "--max-tokens", "8", "--json", "--timing", "--threads", "2");
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { prompt_ids: number[]; ids: number[] };
    expect(out.prompt_ids).toEqual([422, 3033, 356, 1180, 333, 9072, 360, 2175, 391]);
    expect(out.ids.length).toBeGreaterThan(0);
    for (const id of out.ids) expect(id).toBeLessThan(131072);
    report.generateQ8_0 = { threads: 2, activations: "int8", tokens: out.ids.length, peakRssGiB: gib(r.peakRss), ...timing(r.stderr) };
  });
});

/** Full width with 2 experts, f32: the unembedding (3.2 GB) and each expert graph (2.4 GB) exceed 2 GB. */
const WIDE_F32: ModelConfig = parseModelConfig({ ...presetConfig("grok-1"), name: "grok-1-wide-f32", nLayers: 1, nExperts: 2, nExpertsUsed: 2 }, "test");

describe("f32 tensors over 2 GB", () => {
  const dir = path.join(DIR, "grok-1-wide-f32");

  it("load and match the float64 reference; moe generate runs", async () => {
    rmSync(dir, { recursive: true, force: true });
    const cfgFile = path.join(DIR, "grok-1-wide-f32.json");
    writeFileSync(cfgFile, JSON.stringify(WIDE_F32));
    const init = moe("model", "init", "--config", cfgFile, "--dtype", "f32", "--tokenizer", TOKENIZER, "--out", dir);
    expect(init.status, init.stderr.slice(-2000)).toBe(0);
    report.f32Reference = await checkFirstToken(dir, 1135, 1e-4);
    const r = moe("generate", "--model", dir, "--prompt-ids", "1,422,3033", "--max-tokens", "4", "--json", "--timing", "--threads", "2");
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    report.generateF32 = { model: "grok-1 width, 1 layer, 2 experts, f32", initPeakRssGiB: gib(init.peakRss), peakRssGiB: gib(r.peakRss), ...timing(r.stderr) };
  });
});
