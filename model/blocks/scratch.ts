/**
 * Grow-only scratch memory for the inputs of a batched attention run (model/blocks/attention-block.ts).
 *
 * A batch of B > 1 sequences copies each cache into one padded tensor per run: B·P·KVH·hd keys and as
 * many values, and B·T·D residual rows. Fresh arrays of that size cost mostly page faults (on the
 * project's VM filling a fresh 4 MB array took 14 ms, the same array again 0.1 ms; 128 MB: 640 vs 41 ms),
 * paid in every layer of every step. A {@link ScratchPool} lends the same buffers to run after run instead.
 *
 * Runs of attention blocks may be in flight at once (a stage host steps several micro-batches
 * concurrently: while one awaits the router for its MoE step, another runs attention, possibly of the
 * same layer; an async session run lets the event loop turn before it reads its inputs), so a set is
 * lent to one run from before its inputs are written until its session run has returned, and a run
 * that finds none free gets a new one: the pool holds as many sets as runs were ever in flight at once
 * (one in the single-process engine, whose layers run one after another).
 */

/** One growable byte buffer; views of it start at offset 0 and hold whatever was written last. */
export class GrowBuffer {
  private buf = new ArrayBuffer(0);

  /** Bytes held. */
  get bytes(): number {
    return this.buf.byteLength;
  }

  /** A view of `n` f32 elements (stale content). */
  f32(n: number): Float32Array {
    return new Float32Array(this.fit(n * 4), 0, n);
  }

  /** A view of `n` u16 elements (f16 bit patterns; stale content). */
  u16(n: number): Uint16Array {
    return new Uint16Array(this.fit(n * 2), 0, n);
  }

  /**
   * The buffer, at least `bytes` long: a larger one replaces it when it is too small, 1.5× the old size
   * at least (a decode step needs B·KVH·hd more elements than the one before, so an exact fit would
   * reallocate every step; the untouched tail of a fresh buffer costs address space, not memory).
   */
  private fit(bytes: number): ArrayBuffer {
    if (bytes > this.buf.byteLength) this.buf = new ArrayBuffer(Math.max(bytes, Math.ceil((this.buf.byteLength * 1.5) / 8) * 8));
    return this.buf;
  }
}

/** The scratch of one attention run: residual rows, past keys, past values. */
export interface AttentionScratch {
  /** [B, T, D] f32. */
  readonly x: GrowBuffer;
  /** [B, KVH, hd, P] of the cache's element type. */
  readonly keys: GrowBuffer;
  /** [B, KVH, P, hd]. */
  readonly values: GrowBuffer;
}

/** Scratch sets lent to one run at a time ({@link ScratchPool.lend}); shared by the attention blocks of a layer stack. */
export class ScratchPool {
  private readonly free: AttentionScratch[] = [];
  private lent = 0;

  /** Run `fn` with a set no other run holds, returned to the pool when `fn`'s promise settles. */
  async lend<R>(fn: (s: AttentionScratch) => Promise<R>): Promise<R> {
    const s = this.free.pop() ?? { x: new GrowBuffer(), keys: new GrowBuffer(), values: new GrowBuffer() };
    this.lent++;
    try {
      return await fn(s);
    } finally {
      this.lent--;
      this.free.push(s);
    }
  }

  /** Bytes the sets not lent right now hold. */
  get bytes(): number {
    return this.free.reduce((a, s) => a + s.x.bytes + s.keys.bytes + s.values.bytes, 0);
  }

  /** Sets in the pool, lent or not. */
  get sets(): number {
    return this.free.length + this.lent;
  }

  /** Drop the sets not lent right now (their memory goes with them); a later run starts a new one. */
  trim(): void {
    this.free.length = 0;
  }
}
