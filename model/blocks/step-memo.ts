/**
 * What every attention block of one step computes alike: the RoPE tables and the causal mask depend on
 * the step's positions (and the past length), which are the same in every layer the step runs through.
 */
import { ropeTables } from "./rope.js";

/** A masked score (the attention graph adds it before the softmax). */
export const MASKED = -1e30;

/**
 * The attention graph's causal mask [B, 1, G·T, S] (S = P + T; rows j·T + t, one copy per query head j
 * of a group): row t of item b sees its item's `lens[b]` cached positions and its own new positions
 * ≤ t; everything else is {@link MASKED}.
 * @param lens each item's cached length (its first new position), ≤ P
 * @param G query heads per KV head
 * @param T new positions per item (the longest item's)
 * @param P past length the graph reads (a lone cache's capacity, else the longest cache)
 */
export function causalMask(lens: ArrayLike<number>, G: number, T: number, P: number): Float32Array {
  const B = lens.length;
  const S = P + T;
  const mask = new Float32Array(B * G * T * S).fill(MASKED);
  for (let b = 0; b < B; b++) {
    const len = lens[b]!;
    for (let t = 0; t < T; t++)
      for (let j = 0; j < G; j++) {
        const m0 = ((b * G + j) * T + t) * S;
        mask.fill(0, m0, m0 + len);
        mask.fill(0, m0 + P, m0 + P + t + 1);
      }
  }
  return mask;
}

/**
 * One step's RoPE tables and causal mask, shared by the attention blocks of every layer the step runs
 * through: computed the first time and again only when a block asks for other positions (compared by
 * content) or another past length, so a step of L layers computes them once instead of L times (the mask
 * of a long prefill is G·T·(P + T) floats: 100 MB for T = 2048 at Grok-1's G = 6). One per step (never
 * shared between steps that run concurrently); what it returns is read-only.
 */
export class StepMemo {
  /** The positions the memo's tables and mask are for; other positions drop both. */
  private positions?: Float64Array;
  private rope?: { c: Float32Array; s: Float32Array };
  private causal?: { G: number; T: number; P: number; mask: Float32Array };
  /** How many times the RoPE tables / the mask were computed (for tests). */
  computed = 0;
  masksComputed = 0;

  constructor(
    readonly headDim: number,
    readonly base: number,
  ) {}

  /** {@link ropeTables}(positions, headDim, base), reused while `positions` holds the same values. */
  tables(positions: Float64Array): { c: Float32Array; s: Float32Array } {
    this.at(positions);
    if (!this.rope) {
      this.rope = ropeTables(positions, this.headDim, this.base);
      this.computed++;
    }
    return this.rope;
  }

  /**
   * {@link causalMask} for a batch whose new rows sit at `positions` [B·T] (item b's cached length is
   * `positions[b·T]`), reused while the positions, G, T and P are the same.
   */
  mask(positions: Float64Array, G: number, T: number, P: number): Float32Array {
    this.at(positions);
    const k = this.causal;
    if (!k || k.G !== G || k.T !== T || k.P !== P) {
      const lens = Array.from({ length: positions.length / T }, (_, b) => positions[b * T]!);
      this.causal = { G, T, P, mask: causalMask(lens, G, T, P) };
      this.masksComputed++;
    }
    return this.causal!.mask;
  }

  /** Keep what was built for these positions (compared by content); drop it for others. */
  private at(positions: Float64Array): void {
    if (this.positions && sameValues(this.positions, positions)) return;
    this.positions = Float64Array.from(positions);
    this.rope = undefined;
    this.causal = undefined;
  }
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
