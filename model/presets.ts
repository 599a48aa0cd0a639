/**
 * The built-in presets and the fixed literals of the Grok-1 family, with no dependency beyond a
 * type: what `moe model init --preset` lists at start-up without loading zod or the engine
 * (model/light.ts). config.ts re-exports them.
 */
import type { ModelConfig } from "./config.js";

/** Fixed literals of SPEC.md "f32 target" §2 (overridable only by GGUF keys of §9.2). */
export const GROK_DEFAULTS = Object.freeze({
  embeddingScale: 78.38367176906169,
  logitScale: 0.5773502691896257,
  attnScale: 0.08838834764831845,
  attnSoftcap: 30,
  rmsEps: 1e-5,
  ropeBase: 10000,
});

/** xAI's `ffn_size(d, w) = int(w·d)·2 // 3`, rounded up to a multiple of 8 (SPEC.md §0). */
export function ffnSize(dModel: number, wideningFactor: number): number {
  let n = Math.floor((Math.floor(wideningFactor * dModel) * 2) / 3);
  n += (8 - (n % 8)) % 8;
  return n;
}

const SPECIALS = { bosId: 1, eosId: 2, padId: 0, unkId: 3 } as const;

/** Built-in presets (DESIGN.md §1). */
export const PRESETS: Readonly<Record<string, ModelConfig>> = Object.freeze({
  "grok-1": Object.freeze({
    name: "grok-1",
    vocabSize: 131072,
    dModel: 6144,
    nLayers: 64,
    nHeads: 48,
    nKvHeads: 8,
    headDim: 128,
    nExperts: 8,
    nExpertsUsed: 2,
    ffnDim: ffnSize(6144, 8),
    contextLength: 8192,
    ...GROK_DEFAULTS,
    ...SPECIALS,
    addBos: false,
    tiedEmbeddings: true,
  }),
  "grok-1-tiny": Object.freeze({
    name: "grok-1-tiny",
    vocabSize: 2048,
    dModel: 256,
    nLayers: 4,
    nHeads: 8,
    nKvHeads: 2,
    headDim: 32,
    nExperts: 8,
    nExpertsUsed: 2,
    ffnDim: ffnSize(256, 3),
    contextLength: 1024,
    ...GROK_DEFAULTS,
    ...SPECIALS,
    addBos: true,
    tiedEmbeddings: true,
  }),
});
