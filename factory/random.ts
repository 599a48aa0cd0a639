/**
 * The generator's integer PRNG: xoshiro128** seeded by splitmix32, and FNV-1a to derive a stream per
 * tensor name. Exact integer arithmetic only, so every machine draws the same numbers.
 */

/** splitmix32 step: returns [next state, output] as uint32. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) >>> 0;
  let t = s ^ (s >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  t ^= t >>> 15;
  return [s, t >>> 0];
}

/** FNV-1a 32-bit hash of a string's UTF-16 code units. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** xoshiro128** over uint32 state; `uniform()` returns values in (-1, 1), symmetric, exact multiples of 2^-24. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  constructor(seed: number, stream = 0) {
    let st = (seed ^ Math.imul(stream, 0x85ebca6b)) >>> 0;
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [n, o] = splitmix32(st);
      st = n;
      out.push(o);
    }
    [this.s0, this.s1, this.s2, this.s3] = out as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }
  /** Next uint32. */
  next(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }
  /** Uniform in (-1, 1) with variance 1/3. */
  uniform(): number {
    return ((this.next() >>> 8) * 2 - 0xffffff) / 0x1000000;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
