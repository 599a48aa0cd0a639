/**
 * GGUF constants shared by the reader and the writer (ggml `gguf.h`,
 * `ggml.h`). Layout (v2/v3, little endian):
 * magic "GGUF", u32 version, u64 tensor_count, u64 kv_count, KV pairs,
 * tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset),
 * padding to `general.alignment`, tensor data.
 */
import type { WeightDType } from "./types.js";

/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
/** Versions this project reads; it writes the last. */
export const GGUF_VERSIONS: readonly number[] = [2, 3];
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** GGUF metadata value types, by name. */
export type GgufValueType = "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "bool" | "string" | "array" | "u64" | "i64" | "f64";

/** GGUF value type ids (`enum gguf_type`), index = id. */
export const GGUF_VALUE_TYPES: readonly GgufValueType[] = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"];

/** Fixed byte size of a scalar value type (strings and arrays: undefined). */
export const GGUF_SCALAR_BYTES: Partial<Record<GgufValueType, number>> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8 };

/** ggml tensor type ids this project reads and writes. */
export const GGML_TYPE_IDS: Readonly<Record<WeightDType, number>> = Object.freeze({ F32: 0, F16: 1, Q8_0: 8, BF16: 30 });

/** ggml type id -> dtype, for the supported ones. */
export const GGML_DTYPES: ReadonlyMap<number, WeightDType> = new Map(Object.entries(GGML_TYPE_IDS).map(([k, v]) => [v, k as WeightDType]));

/** Names of other ggml types, only to make "unsupported dtype" errors readable. */
export const GGML_OTHER_TYPE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  2: "Q4_0",
  3: "Q4_1",
  6: "Q5_0",
  7: "Q5_1",
  9: "Q8_1",
  10: "Q2_K",
  11: "Q3_K",
  12: "Q4_K",
  13: "Q5_K",
  14: "Q6_K",
  15: "Q8_K",
  16: "IQ2_XXS",
  17: "IQ2_XS",
  18: "IQ3_XXS",
  19: "IQ1_S",
  20: "IQ4_NL",
  21: "IQ3_S",
  22: "IQ2_S",
  23: "IQ4_XS",
  24: "I8",
  25: "I16",
  26: "I32",
  27: "I64",
  28: "F64",
  29: "IQ1_M",
  34: "TQ1_0",
  35: "TQ2_0",
  39: "MXFP4",
});

/** Maximum dimensions of a ggml tensor. */
export const GGML_MAX_DIMS = 4;

/** `general.file_type` values (llama_ftype) for files whose matrices are all one dtype. */
export const GGUF_FILE_TYPES = Object.freeze({ ALL_F32: 0, MOSTLY_F16: 1, MOSTLY_Q8_0: 7, MOSTLY_BF16: 32 });

/** Round `n` up to a multiple of `align`. */
export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}
