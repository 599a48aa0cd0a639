/**
 * Turns tensors of a WeightReader into the weights of each block, reading
 * only what the block needs (one layer's attention, one expert, the head).
 */
import type { ModelConfig } from "../config.js";
import { layerTensorNames } from "../accounting.js";
import { WeightFileError } from "../errors.js";
import type { AttentionWeights } from "../onnx/attention.js";
import type { ExpertWeights } from "../onnx/expert.js";
import type { HeadWeights } from "../onnx/head.js";
import type { LinearWeight } from "../onnx/linear.js";
import type { WeightReader } from "../weights/types.js";

/** A matrix [out, in] (or one expert's slice of [E, out, in]) as a graph weight: Q8_0 stays packed. */
export function linearWeight(reader: WeightReader, name: string, expert?: number): LinearWeight {
  const info = reader.info(name);
  const shape = info.shape;
  const out = shape[shape.length - 2]!;
  const inDim = shape[shape.length - 1]!;
  if (info.dtype === "Q8_0") {
    if (inDim % 32 !== 0)
      throw new WeightFileError(`${reader.file}: tensor '${name}' is Q8_0 but its input width ${inDim} is not a multiple of 32`, { file: reader.file, tensor: name });
    // read on demand, a chunk of rows at a time, when the reader can: the GGUF blocks are never whole in memory
    const rowBytes = (inDim / 32) * 34;
    let scratch: Uint8Array | undefined; // one read buffer per matrix, reused chunk after chunk
    const rows = (first: number, count: number) => {
      if (!scratch || scratch.byteLength < count * rowBytes) scratch = new Uint8Array(count * rowBytes);
      return reader.readRawRange!(name, expert, first * rowBytes, count * rowBytes, scratch);
    };
    const blocks = reader.readRawRange ? { byteLength: out * rowBytes, rows } : reader.readRaw(name, expert).bytes;
    if (reader.readRawRange) reader.readRawRange(name, expert, 0, 0); // a bad expert index is reported now, not at graph build
    return { kind: "q8_0", out, in: inDim, blocks };
  }
  return { kind: "f32", out, in: inDim, data: reader.readF32(name, expert) };
}

/** A 1-D gain vector [D], checked for length. */
export function vectorWeight(reader: WeightReader, name: string, length: number): Float32Array {
  const v = reader.readF32(name);
  if (v.length !== length) throw new WeightFileError(`${reader.file}: tensor '${name}' has ${v.length} values, expected ${length}`, { file: reader.file, tensor: name });
  return v;
}

/** Weights of layer `layer`'s attention block. */
export function attentionWeights(reader: WeightReader, cfg: ModelConfig, layer: number): AttentionWeights {
  const n = layerTensorNames(layer);
  return {
    attnNorm: vectorWeight(reader, n.attnNorm, cfg.dModel),
    q: linearWeight(reader, n.q),
    k: linearWeight(reader, n.k),
    v: linearWeight(reader, n.v),
    o: linearWeight(reader, n.o),
    attnOutNorm: vectorWeight(reader, n.attnOutNorm, cfg.dModel),
    ffnNorm: vectorWeight(reader, n.ffnNorm, cfg.dModel),
  };
}

/** Weights of expert `expert` of layer `layer` (one slice of each stacked tensor). */
export function expertWeights(reader: WeightReader, layer: number, expert: number): ExpertWeights {
  const n = layerTensorNames(layer);
  return { gate: linearWeight(reader, n.gate, expert), up: linearWeight(reader, n.up, expert), down: linearWeight(reader, n.down, expert) };
}

/** Router matrix [E, D] (f32) and the post-MoE norm gain [D] of a layer. */
export function routerWeights(reader: WeightReader, cfg: ModelConfig, layer: number): { router: Float32Array; outNorm: Float32Array } {
  const n = layerTensorNames(layer);
  const router = reader.readF32(n.router);
  if (router.length !== cfg.nExperts * cfg.dModel)
    throw new WeightFileError(`${reader.file}: tensor '${n.router}' has ${router.length} values, expected ${cfg.nExperts}×${cfg.dModel}`, { file: reader.file, tensor: n.router });
  return { router, outNorm: vectorWeight(reader, n.outNorm, cfg.dModel) };
}

/**
 * Final norm and unembedding (`output.weight` when present, else tied `token_embd`).
 * @param tiedF32 the embedding table's f32 values, shared (not read again) when the unembedding is that
 *   same f32 tensor
 */
export function headWeights(reader: WeightReader, cfg: ModelConfig, tiedF32?: Float32Array): HeadWeights {
  const unembedName = reader.find("output.weight") ? "output.weight" : "token_embd.weight";
  const outputNorm = vectorWeight(reader, "output_norm.weight", cfg.dModel);
  const shared = unembedName === "token_embd.weight" && tiedF32 && reader.info(unembedName).dtype !== "Q8_0" && tiedF32.length === cfg.vocabSize * cfg.dModel;
  return { outputNorm, unembed: shared ? { kind: "f32", out: cfg.vocabSize, in: cfg.dModel, data: tiedF32 } : linearWeight(reader, unembedName) };
}
