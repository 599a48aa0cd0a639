/**
 * What the pickles of xAI's checkpoint hold, as typed descriptions: a numpy array (dtype, shape,
 * payload position) or a `QuantizedWeight8bit` (an int8 weight array and a bfloat16 scale array).
 * Anything else is an error naming the file.
 */
import { WeightFileError } from "../errors.js";
import { isTagged, type PickleBytes, type PickleObject, type PickleValue } from "./pickle.js";

/** numpy dtypes a checkpoint array may have. */
export type XaiArrayDType = "f32" | "bf16" | "i8";

/** A C-order numpy array of the checkpoint. */
export interface XaiArray {
  readonly dtype: XaiArrayDType;
  readonly shape: readonly number[];
  readonly data: PickleBytes;
}

/** One leaf: a float array, or an int8 weight with its scales. */
export type XaiLeafValue = { readonly kind: "array"; readonly array: XaiArray } | { readonly kind: "quantized"; readonly weight: XaiArray; readonly scales: XaiArray };

const BYTES: Record<XaiArrayDType, number> = { f32: 4, bf16: 2, i8: 1 };

const isObj = (v: PickleValue | undefined, full: string): v is PickleObject => isTagged(v) && v.kind === "object" && `${v.cls.module}.${v.cls.name}` === full;

function dtypeOf(file: string, v: PickleValue | undefined): XaiArrayDType {
  if (!isObj(v, "numpy.dtype")) throw new WeightFileError(`${file}: array dtype is not a numpy.dtype`, { file });
  const spec = v.args[0];
  const order = Array.isArray(v.state) ? v.state[1] : undefined;
  if (order === ">") throw new WeightFileError(`${file}: big-endian arrays are not supported`, { file });
  if (spec === "f4") return "f32";
  if (spec === "i1") return "i8";
  if (isTagged(spec) && spec.kind === "global" && spec.module === "ml_dtypes" && spec.name === "bfloat16") return "bf16";
  const shown = typeof spec === "string" ? spec : isTagged(spec) && spec.kind === "global" ? `${spec.module}.${spec.name}` : String(spec);
  throw new WeightFileError(`${file}: unsupported array dtype ${JSON.stringify(shown)}; a Grok-1 checkpoint holds float32, int8 and bfloat16`, {
    file,
  });
}

const RECONSTRUCT = ["numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct"];

/** A numpy array pickled with numpy's protocol-2+ reduce (`_reconstruct` + BUILD state). */
export function xaiArray(file: string, v: PickleValue | undefined, what: string): XaiArray {
  const bad = (why: string) => new WeightFileError(`${file}: ${what} is not a numpy array (${why})`, { file, fix: "pass xAI's ckpt-0 files unchanged" });
  if (!RECONSTRUCT.some((g) => isObj(v, g))) throw bad("no numpy _reconstruct");
  const st = (v as PickleObject).state;
  if (!Array.isArray(st) || st.length !== 5) throw bad("unexpected state");
  const [, shape, dt, fortran, data] = st as PickleValue[];
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === "number" && Number.isInteger(d) && d >= 0)) throw bad("bad shape");
  if (fortran !== false) throw bad("Fortran order is not supported");
  if (!isTagged(data) || data.kind !== "bytes") throw bad("no raw data");
  const dtype = dtypeOf(file, dt);
  const n = (shape as number[]).reduce((a, b) => a * b, 1);
  if (data.length !== n * BYTES[dtype])
    throw new WeightFileError(`${file}: ${what} of shape [${shape.join(", ")}] ${dtype} needs ${n * BYTES[dtype]} bytes but holds ${data.length}`, { file });
  return { dtype, shape: shape as number[], data };
}

/** Interpret the value of one checkpoint file. */
export function xaiLeafValue(file: string, v: PickleValue): XaiLeafValue {
  if (isObj(v, "__main__.QuantizedWeight8bit") || isObj(v, "model.QuantizedWeight8bit")) {
    const st = v.state;
    if (!(st instanceof Map)) throw new WeightFileError(`${file}: QuantizedWeight8bit has no attribute dict`, { file });
    return { kind: "quantized", weight: xaiArray(file, st.get("weight"), "QuantizedWeight8bit.weight"), scales: xaiArray(file, st.get("scales"), "QuantizedWeight8bit.scales") };
  }
  return { kind: "array", array: xaiArray(file, v, "the pickled object") };
}
