/**
 * Writes checkpoints in xAI's Grok-1 format (XAI_CHECKPOINT.md §6) byte for byte as CPython's
 * `pickle.dump(leaf, f, protocol=4)` does with numpy 1.x and ml_dtypes: `ckpt-0/tensor{i:05d}_000`
 * in jax flatten order, float32 arrays for the embedding, norms and router, and
 * `__main__.QuantizedWeight8bit(weight=int8 [.., in, out], scales=bfloat16 [.., G, out])` for every
 * attention and expert matrix (G = 8 for `multi_head_attention/linear` and `moe/linear_1`).
 */
import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import {
  f32ToBf16,
  bf16ToF32,
  modelTensors,
  XAI_CKPT_DIR,
  xaiFileName,
  xaiLeaves,
  type ModelConfig,
  type XaiArrayDType,
} from "../model/index.js";
import { generateTensorValues } from "./init-values.js";
import { writeAll } from "./gguf-writer.js";
import { Pickler } from "./pickler.js";

/** A C-order array to pickle. */
export interface XaiArrayInput {
  readonly dtype: XaiArrayDType;
  readonly shape: readonly number[];
  /** Little-endian element bytes. */
  readonly data: Uint8Array;
}

/** One checkpoint leaf: a float32 array, or int8 weights with bfloat16 scales. */
export type XaiLeafInput = { readonly kind: "array"; readonly array: XaiArrayInput } | { readonly kind: "quantized"; readonly weight: XaiArrayInput; readonly scales: XaiArrayInput };

/** numpy's dtype pickle: `numpy.dtype(spec, False, True)` with its 8-field state. */
const DTYPES: Record<XaiArrayDType, { byteorder: string; elsize: number; align: number; flags: number }> = {
  f32: { byteorder: "<", elsize: -1, align: -1, flags: 0 },
  i8: { byteorder: "|", elsize: -1, align: -1, flags: 0 },
  bf16: { byteorder: "<", elsize: 2, align: 2, flags: 64 },
};

function saveDtype(p: Pickler, dtype: XaiArrayDType): void {
  const d = DTYPES[dtype];
  p.saveReduce(
    () => p.saveGlobal("numpy", "dtype"),
    () => p.saveTuple([() => (dtype === "bf16" ? p.saveGlobal("ml_dtypes", "bfloat16") : p.saveStr(dtype === "f32" ? "f4" : "i1")), () => p.saveBool(false), () => p.saveBool(true)]),
    () =>
      p.saveTuple([
        () => p.saveInt(3),
        () => p.saveStr(d.byteorder),
        () => p.saveNone(),
        () => p.saveNone(),
        () => p.saveNone(),
        () => p.saveInt(d.elsize),
        () => p.saveInt(d.align),
        () => p.saveInt(d.flags),
      ]),
    `dtype:${dtype}`,
  );
}

/** numpy's ndarray reduce: `_reconstruct(ndarray, (0,), b'b')`, BUILD `(1, shape, dtype, False, data)`. */
function saveArray(p: Pickler, a: XaiArrayInput, numpyCore: string): void {
  p.saveReduce(
    () => p.saveGlobal(numpyCore, "_reconstruct"),
    () => p.saveTuple([() => p.saveGlobal("numpy", "ndarray"), () => p.saveTuple([() => p.saveInt(0)]), () => p.saveBytes(Uint8Array.of(0x62), "b")]),
    () =>
      p.saveTuple([
        () => p.saveInt(1),
        () => p.saveTuple(a.shape.map((d) => () => p.saveInt(d))),
        () => saveDtype(p, a.dtype),
        () => p.saveBool(false),
        () => p.saveBytes(a.data),
      ]),
  );
}

/** The pickle of one leaf, as byte parts (payloads referenced). `numpyCore` is numpy 1.x's module by default. */
export function pickleXaiLeaf(leaf: XaiLeafInput, numpyCore = "numpy.core.multiarray"): Uint8Array[] {
  const p = new Pickler();
  if (leaf.kind === "array") saveArray(p, leaf.array, numpyCore);
  else
    p.saveNewObj(
      () => p.saveGlobal("__main__", "QuantizedWeight8bit"),
      [
        ["weight", () => saveArray(p, leaf.weight, numpyCore)],
        ["scales", () => saveArray(p, leaf.scales, numpyCore)],
      ],
    );
  return p.finish();
}

/** Write `leaves` (file order) as `dir/ckpt-0/tensor{i:05d}_000`. */
export function writeXaiLeaves(dir: string, leaves: readonly XaiLeafInput[]): string {
  const ckpt = join(dir, XAI_CKPT_DIR);
  mkdirSync(ckpt, { recursive: true });
  leaves.forEach((leaf, i) => {
    const fd = openSync(join(ckpt, xaiFileName(i)), "w");
    try {
      for (const part of pickleXaiLeaf(leaf)) writeAll(fd, part);
    } finally {
      closeSync(fd);
    }
  });
  return ckpt;
}

/** numpy `rint`: round half to even. */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * xAI-style int8 quantisation of a canonical [.., out, in] f32 matrix: transposed to [.., in, out],
 * per (group of in/G rows, output column) s = bf16(absmax / 127), q = clip(rint(w / s), ±127).
 */
export function quantizeXai(values: Float32Array, shape: readonly number[], groups: number): { weight: XaiArrayInput; scales: XaiArrayInput } {
  const mats = shape.length === 3 ? shape[0]! : 1;
  const [N, K] = [shape[shape.length - 2]!, shape[shape.length - 1]!];
  if (K % groups !== 0) throw new RangeError(`input width ${K} is not a multiple of ${groups} scale groups`);
  const rows = K / groups;
  const q = new Int8Array(mats * K * N);
  const s = new Uint8Array(mats * groups * N * 2);
  for (let m = 0; m < mats; m++) {
    for (let n = 0; n < N; n++) {
      const row = (m * N + n) * K;
      for (let g = 0; g < groups; g++) {
        let amax = 0;
        for (let k = g * rows; k < (g + 1) * rows; k++) amax = Math.max(amax, Math.abs(values[row + k]!));
        const bits = f32ToBf16(Math.fround(amax / 127));
        const scale = bf16ToF32(bits);
        const at = ((m * groups + g) * N + n) * 2;
        s[at] = bits & 0xff;
        s[at + 1] = bits >>> 8;
        for (let k = g * rows; k < (g + 1) * rows; k++) q[(m * K + k) * N + n] = scale === 0 ? 0 : Math.max(-127, Math.min(127, rint(values[row + k]! / scale)));
      }
    }
  }
  const outer = mats > 1 || shape.length === 3 ? [mats] : [];
  return {
    weight: { dtype: "i8", shape: [...outer, K, N], data: new Uint8Array(q.buffer) },
    scales: { dtype: "bf16", shape: [...outer, groups, N], data: s },
  };
}

/** [rows, cols] f32 → [cols, rows] f32 bytes. */
function transposedBytes(v: Float32Array, rows: number, cols: number): Uint8Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c]!;
  return new Uint8Array(out.buffer);
}

/**
 * A random model of `config` (the generator's values for `seed`) as an xAI checkpoint in `outDir`
 * (`ckpt-0/` only; add `tokenizer.model` and `config.json` beside it as needed).
 * @returns the ckpt-0 directory
 */
export function writeXaiCheckpoint(config: ModelConfig, seed: number, outDir: string): string {
  const specs = new Map(modelTensors(config).map((t) => [t.name, t]));
  const leaves = xaiLeaves(config.nLayers).map((leaf): XaiLeafInput => {
    const spec = specs.get(leaf.name)!;
    const values = generateTensorValues(config, seed, spec);
    if (leaf.quantized) return { kind: "quantized", ...quantizeXai(values, spec.shape, spec.rowParallel ? 8 : 1) };
    const shape = leaf.transposed ? [spec.shape[1]!, spec.shape[0]!] : [...spec.shape];
    const data = leaf.transposed ? transposedBytes(values, spec.shape[0]!, spec.shape[1]!) : new Uint8Array(values.buffer);
    return { kind: "array", array: { dtype: "f32", shape, data } };
  });
  return writeXaiLeaves(outDir, leaves);
}
