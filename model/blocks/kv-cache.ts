/**
 * KV cache of one sequence for one layer: rotated keys and raw values,
 * [len, KVH, hd] f32 each, grown by doubling.
 */
export class LayerKv {
  /** Number of cached positions. */
  len = 0;
  private k: Float32Array;
  private v: Float32Array;

  constructor(
    /** Elements per position: KVH · hd. */
    readonly rowSize: number,
    initialCapacity = 16,
  ) {
    this.k = new Float32Array(rowSize * initialCapacity);
    this.v = new Float32Array(rowSize * initialCapacity);
  }

  /** Append `n` positions from k/v (each [n, KVH, hd], read from `offset` elements). */
  append(k: Float32Array, v: Float32Array, offset: number, n: number): void {
    const need = (this.len + n) * this.rowSize;
    if (need > this.k.length) {
      let cap = this.k.length || this.rowSize;
      while (cap < need) cap *= 2;
      const nk = new Float32Array(cap);
      nk.set(this.k.subarray(0, this.len * this.rowSize));
      const nv = new Float32Array(cap);
      nv.set(this.v.subarray(0, this.len * this.rowSize));
      this.k = nk;
      this.v = nv;
    }
    const span = n * this.rowSize;
    this.k.set(k.subarray(offset, offset + span), this.len * this.rowSize);
    this.v.set(v.subarray(offset, offset + span), this.len * this.rowSize);
    this.len += n;
  }

  /** Cached keys [len, KVH, hd] (a view). */
  keys(): Float32Array {
    return this.k.subarray(0, this.len * this.rowSize);
  }

  /** Cached values [len, KVH, hd] (a view). */
  values(): Float32Array {
    return this.v.subarray(0, this.len * this.rowSize);
  }

  /** Bytes held (capacity, K and V). */
  get bytes(): number {
    return (this.k.byteLength + this.v.byteLength) | 0;
  }
}
