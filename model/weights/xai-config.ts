/**
 * The model configuration of an xAI checkpoint that comes without a `config.json`: sizes read from
 * the tensor shapes, Grok-1's head size (128) and constants (SPEC.md, xAI's `run.py`).
 */
import { basename, dirname } from "node:path";
import { GROK_DEFAULTS, parseModelConfig, PRESETS, type ModelConfig } from "../config.js";
import { ModelConfigError } from "../errors.js";
import type { XaiCheckpointReader } from "./xai-checkpoint.js";

/** Grok-1's head size: the checkpoint's shapes give heads × head size, not each. */
export const XAI_HEAD_DIM = 128;

/** Config of the checkpoint at `reader` from its shapes (`name` defaults to the model directory's name). */
export function configFromXai(reader: XaiCheckpointReader, name = basename(dirname(reader.file))): ModelConfig {
  const shape = (n: string) => reader.info(n).shape;
  const [vocabSize, dModel] = shape("token_embd.weight") as [number, number];
  const [nExperts, ffnDim] = shape("blk.0.ffn_gate_exps.weight") as [number, number];
  const qDim = shape("blk.0.attn_q.weight")[0]!;
  const kvDim = shape("blk.0.attn_k.weight")[0]!;
  if (qDim % XAI_HEAD_DIM !== 0 || kvDim % XAI_HEAD_DIM !== 0)
    throw new ModelConfigError(
      `${reader.file}: query width ${qDim} / key width ${kvDim} are not multiples of Grok-1's head size ${XAI_HEAD_DIM}, so the head count cannot be read from the shapes`,
      { file: reader.file, field: "headDim", fix: `put a config.json (with nHeads, nKvHeads, headDim) beside ${basename(reader.file)}` },
    );
  const grok = PRESETS["grok-1"]!;
  const sizes = { vocabSize, dModel, nLayers: reader.nLayers, nHeads: qDim / XAI_HEAD_DIM, nKvHeads: kvDim / XAI_HEAD_DIM, headDim: XAI_HEAD_DIM, nExperts, ffnDim };
  const isGrok1 = Object.entries(sizes).every(([k, v]) => grok[k as keyof ModelConfig] === v);
  return parseModelConfig(
    {
      ...sizes,
      name: isGrok1 ? "grok-1" : name,
      nExpertsUsed: Math.min(2, nExperts),
      contextLength: grok.contextLength,
      rmsEps: GROK_DEFAULTS.rmsEps,
      ropeBase: GROK_DEFAULTS.ropeBase,
      embeddingScale: GROK_DEFAULTS.embeddingScale,
      logitScale: GROK_DEFAULTS.logitScale,
      attnScale: GROK_DEFAULTS.attnScale,
      attnSoftcap: GROK_DEFAULTS.attnSoftcap,
      bosId: grok.bosId,
      eosId: grok.eosId,
      padId: grok.padId,
      unkId: grok.unkId,
      addBos: false,
      tiedEmbeddings: true,
    },
    `${reader.file} (checkpoint shapes)`,
  );
}
