/** Shared fixtures for the weight-file tests: temp dirs, a small model config, the public reference. */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { GROK_DEFAULTS, parseModelConfig, type ModelConfig } from "../../model/index.js";

/** ../shared beside the checkout (as in CI). */
export const SHARED = path.resolve(process.cwd(), "../shared");
export const REF_DIR = path.join(SHARED, "grok-1/reference");
export const REF_F32 = path.join(REF_DIR, "grok-public-b.f32.gguf");
export const REF_Q8 = path.join(REF_DIR, "grok-public-b.q8_0.gguf");
export const REF_ST = path.join(REF_DIR, "grok-public-b.safetensors");
export const REF_CONFIG = path.join(REF_DIR, "config.json");

/** A fresh temp dir under os.tmpdir(); `cleanup()` removes every dir made. */
export function tempDirs(prefix = "moe-weights-") {
  const made: string[] = [];
  return {
    make(): string {
      const d = mkdtempSync(path.join(os.tmpdir(), prefix));
      made.push(d);
      return d;
    },
    cleanup(): void {
      for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

/**
 * A small Grok-family config for fast tests: gate/up inputs (64) are Q8_0-able,
 * the down projection's input (48) is not, so q8_0 files mix Q8_0 and F16.
 */
export const SMALL: ModelConfig = parseModelConfig(
  {
    name: "grok-test-small",
    vocabSize: 400,
    dModel: 64,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    headDim: 16,
    nExperts: 4,
    nExpertsUsed: 2,
    ffnDim: 48,
    contextLength: 128,
    ...GROK_DEFAULTS,
    bosId: 1,
    eosId: 2,
    padId: 0,
    unkId: 3,
    addBos: true,
    tiedEmbeddings: true,
  },
  "test SMALL config",
);
