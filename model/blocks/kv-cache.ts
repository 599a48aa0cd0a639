/**
 * KV cache of one sequence for one layer, kept in the layouts the attention
 * matmuls read: rotated keys transposed, [KVH, hd, cap], and values
 * [KVH, cap, hd] (f32). Capacity doubles as the sequence grows.
 */
export class LayerKv {
  /** Number of cached positions. */
  len = 0;
  private cap: number;
  private k: Float32Array;
  private v: Float32Array;

  constructor(
    /** KV heads. */
    readonly kvHeads: number,
    /** Head size. */
    readonly headDim: number,
    initialCapacity = 16,
  ) {
    this.cap = initialCapacity;
    this.k = new Float32Array(kvHeads * headDim * initialCapacity);
    this.v = new Float32Array(kvHeads * headDim * initialCapacity);
  }

  /** Elements per position: KVH · hd. */
  get rowSize(): number {
    return this.kvHeads * this.headDim;
  }

  /** Append `n` positions from k/v laid out [n, KVH, hd], starting `offset` elements in. */
  append(k: Float32Array, v: Float32Array, offset: number, n: number): void {
    if (this.len + n > this.cap) this.grow(this.len + n);
    const { kvHeads: KVH, headDim: hd, cap } = this;
    for (let t = 0; t < n; t++) {
      const pos = this.len + t;
      const src = offset + t * KVH * hd;
      for (let h = 0; h < KVH; h++) {
        const s = src + h * hd;
        const kBase = h * hd * cap + pos;
        for (let d = 0; d < hd; d++) this.k[kBase + d * cap] = k[s + d]!;
        this.v.set(v.subarray(s, s + hd), (h * cap + pos) * hd);
      }
    }
    this.len += n;
  }

  /** Copy the cached keys into a transposed batch slot [KVH, hd, P] (P ≥ len; the rest is left as is). */
  copyKeysT(dst: Float32Array, at: number, P: number): void {
    const { kvHeads: KVH, headDim: hd, cap, len } = this;
    for (let r = 0; r < KVH * hd; r++) dst.set(this.k.subarray(r * cap, r * cap + len), at + r * P);
  }

  /** Copy the cached values into a batch slot [KVH, P, hd] (P ≥ len). */
  copyValues(dst: Float32Array, at: number, P: number): void {
    const { kvHeads: KVH, headDim: hd, cap, len } = this;
    for (let h = 0; h < KVH; h++) dst.set(this.v.subarray(h * cap * hd, (h * cap + len) * hd), at + h * P * hd);
  }

  private grow(need: number): void {
    let cap = this.cap;
    while (cap < need) cap *= 2;
    const { kvHeads: KVH, headDim: hd, len } = this;
    const k = new Float32Array(KVH * hd * cap);
    const v = new Float32Array(KVH * hd * cap);
    for (let r = 0; r < KVH * hd; r++) k.set(this.k.subarray(r * this.cap, r * this.cap + len), r * cap);
    for (let h = 0; h < KVH; h++) v.set(this.v.subarray(h * this.cap * hd, (h * this.cap + len) * hd), h * cap * hd);
    this.cap = cap;
    this.k = k;
    this.v = v;
  }

  /** Bytes held (capacity, K and V). */
  get bytes(): number {
    return this.k.byteLength + this.v.byteLength;
  }
}
