/**
 * One interface for every weight format, addressed by tensor name.
 *
 * Canonical names are llama.cpp's `grok` GGUF names (SPEC.md §9.3):
 * `token_embd.weight`, `output_norm.weight`, `output.weight` (optional),
 * `blk.N.attn_norm.weight`, `blk.N.attn_q.weight`, `blk.N.attn_k.weight`,
 * `blk.N.attn_v.weight`, `blk.N.attn_output.weight`,
 * `blk.N.attn_output_norm.weight`, `blk.N.ffn_norm.weight`,
 * `blk.N.ffn_gate_inp.weight`, `blk.N.ffn_gate_exps.weight`,
 * `blk.N.ffn_up_exps.weight`, `blk.N.ffn_down_exps.weight`,
 * `blk.N.layer_output_norm.weight`.
 */

/** Storage dtypes a reader understands. */
export type WeightDType = "F32" | "F16" | "BF16" | "Q8_0";

/** Where one tensor lives and what it holds. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: WeightDType;
  /**
   * Row-major (numpy/safetensors) shape, outermost first: matrices are
   * [out, in], stacked experts [expert, out, in]. (GGUF `ne` reversed.)
   */
  readonly shape: readonly number[];
  /** Absolute byte offset of the data in the file. */
  readonly offset: number;
  /** Byte length of the data. */
  readonly byteLength: number;
}

/** Raw bytes of one tensor (or one expert slice of a stacked tensor), as stored. */
export interface RawTensor {
  readonly dtype: WeightDType;
  /** Row-major shape of what was read (the expert axis removed for a slice). */
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** Random access to the tensors of one weight file; reads only the byte ranges asked for. */
export interface WeightReader {
  /** Path of the file (for error messages). */
  readonly file: string;
  /** Format-level metadata (GGUF KV pairs, or safetensors `__metadata__`). */
  readonly metadata: ReadonlyMap<string, unknown>;
  /** Every tensor in the file, in file order. */
  tensors(): readonly TensorInfo[];
  /** Info for one tensor, or undefined when absent. */
  find(name: string): TensorInfo | undefined;
  /** Info for one tensor; throws WeightFileError naming file and tensor when absent. */
  info(name: string): TensorInfo;
  /** Stored bytes of a whole tensor, or of expert `expert` of a stacked [E, ...] tensor. */
  readRaw(name: string, expert?: number): RawTensor;
  /**
   * Stored bytes [start, start + length) of a tensor (of expert `expert`'s slice of a stacked tensor), read
   * alone (into `into` when given, returning a view of it): lets a large tensor be converted in pieces.
   * Optional; readers without it are read whole.
   */
  readRawRange?(name: string, expert: number | undefined, start: number, length: number, into?: Uint8Array): Uint8Array;
  /** Values converted exactly to f32 (F16/BF16/Q8_0 dequantised), whole or one expert. */
  readF32(name: string, expert?: number): Float32Array;
  /** Total bytes read from disk so far (to prove range reads). */
  readonly bytesRead: number;
  close(): void;
}
