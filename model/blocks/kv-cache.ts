/**
 * KV cache of one sequence for one layer, kept in the layouts the attention
 * matmuls read, so a batch of one feeds it to the graph as is (no copy):
 * rotated keys transposed [KVH, hd, cap] and values [KVH, cap, hd], each a
 * `[1, …]` tensor view. f32 (SPEC's target) or f16 (IEEE half bits, half the
 * memory). Capacity doubles as the sequence grows (one copy per doubling).
 */
import type { KvDtype } from "./session.js";

/** Storage of a cache: f32 values or f16 bit patterns. */
export type KvArray = Float32Array | Uint16Array;

/** Bytes per cached key or value element in the engine's default KV cache (f32; `--kv-dtype f16` halves it). */
export const ENGINE_KV_BYTES_PER_ELEMENT = 4;

export class LayerKv {
  /** Number of cached positions. */
  len = 0;
  private cap: number;
  private k: KvArray;
  private v: KvArray;
  private type: KvDtype | undefined;

  constructor(
    /** KV heads. */
    readonly kvHeads: number,
    /** Head size. */
    readonly headDim: number,
    /** Element type; when absent, the first attention block that writes here picks its own. */
    dtype?: KvDtype,
    initialCapacity = 16,
  ) {
    this.cap = initialCapacity;
    this.type = dtype;
    this.k = alloc(dtype ?? "f32", kvHeads * headDim * initialCapacity);
    this.v = alloc(dtype ?? "f32", kvHeads * headDim * initialCapacity);
  }

  /** Element type (f32 until a block or the constructor chose). */
  get dtype(): KvDtype {
    return this.type ?? "f32";
  }

  /** Positions the buffers hold before they grow. */
  get capacity(): number {
    return this.cap;
  }

  /** Elements per position: KVH · hd. */
  get rowSize(): number {
    return this.kvHeads * this.headDim;
  }

  /** Bytes held (capacity, K and V). */
  get bytes(): number {
    return this.k.byteLength + this.v.byteLength;
  }

  /**
   * Fix the element type of a cache created without one (only while it is empty).
   * @throws Error when the cache already holds another type
   */
  adopt(dtype: KvDtype): void {
    if (this.type === dtype) return;
    if (this.type !== undefined || this.len > 0)
      throw new Error(`this KV cache holds ${this.dtype} values but the attention block was built for ${dtype} (kvDtype): create caches with the block's kvDtype`);
    this.type = dtype;
    if (dtype === "f32") return; // the buffers already are
    this.k = alloc(dtype, this.k.length);
    this.v = alloc(dtype, this.v.length);
  }

  /** The whole key buffer [KVH, hd, capacity] (positions ≥ len are stale). */
  get keysT(): KvArray {
    return this.k;
  }

  /** The whole value buffer [KVH, capacity, hd]. */
  get values(): KvArray {
    return this.v;
  }

  /** Make room for `n` more positions. */
  reserve(n: number): void {
    if (this.len + n > this.cap) this.grow(this.len + n);
  }

  /**
   * Append `n` positions from the graph's outputs of a batch padded to T new positions per item:
   * keys transposed kT[.., KVH, hd, T] and values v[.., KVH, T, hd], this item's block starting
   * `offset` elements in (both arrays of this cache's element type).
   */
  append(kT: KvArray, v: KvArray, offset: number, T: number, n: number): void {
    this.reserve(n);
    const { kvHeads: KVH, headDim: hd, cap, len } = this;
    if (n === 1) {
      // a decode step: one column of keys (element by element: a subarray per row costs more than the copy)
      const k = this.k;
      for (let r = 0; r < KVH * hd; r++) k[r * cap + len] = kT[offset + r * T]!;
    } else for (let r = 0; r < KVH * hd; r++) this.k.set(kT.subarray(offset + r * T, offset + r * T + n), r * cap + len);
    for (let h = 0; h < KVH; h++) this.v.set(v.subarray(offset + h * T * hd, offset + (h * T + n) * hd), (h * cap + len) * hd);
    this.len += n;
  }

  /**
   * Copy the cached keys into a batch slot [KVH, hd, P] (P ≥ len). Positions len..P−1 of the slot are
   * zeroed with `clearTail` (reused scratch), else left as they are (a fresh buffer's zeros).
   */
  copyKeysT(dst: KvArray, at: number, P: number, clearTail = false): void {
    const { kvHeads: KVH, headDim: hd, cap, len } = this;
    const clear = clearTail && len < P;
    for (let r = 0; r < KVH * hd; r++) {
      const o = at + r * P;
      dst.set(this.k.subarray(r * cap, r * cap + len), o);
      if (clear) dst.fill(0, o + len, o + P);
    }
  }

  /** Copy the cached values into a batch slot [KVH, P, hd] (P ≥ len); `clearTail` as in {@link copyKeysT}. */
  copyValues(dst: KvArray, at: number, P: number, clearTail = false): void {
    const { kvHeads: KVH, headDim: hd, cap, len } = this;
    for (let h = 0; h < KVH; h++) {
      const o = at + h * P * hd;
      dst.set(this.v.subarray(h * cap * hd, (h * cap + len) * hd), o);
      if (clearTail && len < P) dst.fill(0, o + len * hd, o + P * hd);
    }
  }

  private grow(need: number): void {
    let cap = this.cap;
    while (cap < need) cap *= 2;
    const { kvHeads: KVH, headDim: hd } = this;
    const k = alloc(this.dtype, KVH * hd * cap);
    const v = alloc(this.dtype, KVH * hd * cap);
    this.copyKeysT(k, 0, cap);
    this.copyValues(v, 0, cap);
    this.cap = cap;
    this.k = k;
    this.v = v;
  }
}

function alloc(dtype: KvDtype, n: number): KvArray {
  return dtype === "f16" ? new Uint16Array(n) : new Float32Array(n);
}
