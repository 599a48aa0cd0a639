/**
 * `moe model convert`: any model this project reads (xAI's checkpoint, a GGUF or split set, a
 * safetensors directory) written as one GGUF at a chosen dtype, tensor by tensor and expert by
 * expert (never a whole stacked tensor in memory), with the vocabulary embedded.
 *
 * A tensor already stored as the target dtype is copied byte for byte: xAI's int8 matrices, which
 * the reader presents as exact Q8_0 blocks, convert to Q8_0 without re-rounding. Anything else is
 * encoded from its exact f32 values (and named in {@link ConvertResult.reencoded} when that rounds).
 */
import { modelTensors, openModel, rawToF32, type RawTensor, type TensorInfo } from "../model/index.js";
import { encodeValues, FILE_TYPES, storageDType, type GenerateDType } from "./generate.js";
import { grokGgufMetadata, vocabFromSource } from "./gguf-metadata.js";
import { writeGguf, type GgufTensorInput } from "./gguf-writer.js";

export interface ConvertOptions {
  /** A model directory (xAI `ckpt-0/` + tokenizer.model, GGUF or safetensors) or a GGUF file. */
  readonly from: string;
  /** The GGUF file to write. */
  readonly to: string;
  /** f32: every tensor F32. f16: matrices F16. q8_0: matrices Q8_0 (F16 where the input width is not a multiple of 32). */
  readonly dtype: GenerateDType;
  /** Called after each tensor is written. */
  readonly onTensor?: (name: string, index: number, count: number) => void;
}

export interface ConvertResult {
  readonly to: string;
  readonly bytes: number;
  readonly tensors: number;
  /** Tensors copied byte for byte (same dtype in and out). */
  readonly copied: readonly string[];
  /** Tensors re-encoded with rounding (e.g. f32 → Q8_0, int8·bf16 → f16). */
  readonly reencoded: readonly string[];
  /** Whether the vocabulary was embedded. */
  readonly vocab: boolean;
}

/** Whether storing `info`'s values as `target` is exact without looking at them (every stored dtype widens to F32 exactly). */
function lossless(info: TensorInfo, target: string): boolean {
  return info.dtype === target || target === "F32";
}

/** Convert a model to one GGUF file. */
export function convertModel(opts: ConvertOptions): ConvertResult {
  const m = openModel(opts.from);
  try {
    const cfg = m.config;
    const r = m.weights;
    const specs = modelTensors(cfg);
    const copied: string[] = [];
    const reencoded: string[] = [];
    const tensors: GgufTensorInput[] = specs.map((spec, i) => {
      const info = r.info(spec.name);
      const target = storageDType(spec, opts.dtype);
      if (info.dtype === target) copied.push(spec.name);
      else if (!lossless(info, target)) reencoded.push(spec.name);
      const stored = (raw: RawTensor) => (raw.dtype === target ? raw.bytes : encodeValues(rawToF32(raw), target));
      return {
        name: spec.name,
        dtype: target,
        shape: spec.shape,
        chunks: function* () {
          if (spec.shape.length === 3) for (let e = 0; e < spec.shape[0]!; e++) yield stored(r.readRaw(spec.name, e));
          else yield stored(r.readRaw(spec.name));
          opts.onTensor?.(spec.name, i, specs.length);
        },
      };
    });
    const vocab = vocabFromSource(m.tokenizer);
    const bytes = writeGguf(opts.to, { metadata: grokGgufMetadata(cfg, { fileType: FILE_TYPES[opts.dtype], vocab }), tensors });
    return { to: opts.to, bytes, tensors: tensors.length, copied, reencoded, vocab: vocab !== undefined };
  } finally {
    m.close();
  }
}
