/** Comparison helpers and a loader for the public reference results (tests only). */
import { readFileSync } from "node:fs";
import path from "node:path";

/** Default location of the public reference: ../shared/grok-1/reference from the repo root. */
export function publicReferenceDir(): string {
  return path.resolve(process.cwd(), "../shared/grok-1/reference");
}

function checkLengths(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
}

/** max_i |a_i − b_i| (NaN anywhere gives NaN). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkLengths(a, b);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

/** max|a − b| / max|b|. */
export function relMaxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkLengths(a, b);
  let mb = 0;
  for (let i = 0; i < b.length; i++) mb = Math.max(mb, Math.abs(b[i]));
  return maxAbsDiff(a, b) / mb;
}

/** Index of the largest value; ties go to the lowest index. */
export function argmax(a: ArrayLike<number>): number {
  if (!a.length) throw new Error("argmax of empty array");
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/** max_j |a[ids_j] − vals_j|: compare a full logits row against stored (id, value) pairs. */
export function maxAbsDiffAt(a: ArrayLike<number>, ids: readonly number[], vals: readonly number[]): number {
  if (ids.length !== vals.length) throw new Error(`ids/values length mismatch: ${ids.length} vs ${vals.length}`);
  let m = 0;
  for (let j = 0; j < ids.length; j++) {
    const d = Math.abs(a[ids[j]] - vals[j]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

/** Read a little-endian float32 file as float64. */
export function readF32LE(file: string): Float64Array {
  const buf = readFileSync(file);
  if (buf.byteLength % 4 !== 0) throw new Error(`${file}: ${buf.byteLength} bytes is not a whole number of float32`);
  const n = buf.byteLength / 4;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

export type ReferenceVariant = "f32" | "q8_0";

export interface ReferenceStep {
  top10_ids: number[];
  top10_logits: number[];
  margin: number;
}

export interface ReferencePrompt {
  index: number;
  prompt: number[];
  last_logits_file: string;
  /** Contents of last_logits_file: all logits at the last prompt position. */
  lastLogits: Float64Array;
  top10: { ids: number[]; logits: number[] };
  continuation: number[];
  /** steps[k] = logits after feeding prompt + continuation[:k]. */
  steps: ReferenceStep[];
  min_margin: number;
}

export interface ReferenceResults {
  variant: ReferenceVariant;
  producer: string;
  model: string;
  semantics: string;
  n_predict: number;
  prompts: ReferencePrompt[];
}

/** Load `<dir>/<variant>/results.json` and its `p<i>.logits.bin` files. */
export function loadReferenceResults(variant: ReferenceVariant, dir: string = publicReferenceDir()): ReferenceResults {
  const vdir = path.join(dir, variant);
  const raw = JSON.parse(readFileSync(path.join(vdir, "results.json"), "utf8")) as Omit<ReferenceResults, "prompts"> & {
    prompts: Array<Omit<ReferencePrompt, "lastLogits">>;
  };
  if (raw.variant !== variant) throw new Error(`${vdir}/results.json: variant '${raw.variant}', expected '${variant}'`);
  return {
    ...raw,
    prompts: raw.prompts.map((p) => ({ ...p, lastLogits: readF32LE(path.join(vdir, p.last_logits_file)) })),
  };
}

/** The prompts of `<dir>/prompts.json` (token-id arrays). */
export function loadReferencePrompts(dir: string = publicReferenceDir()): number[][] {
  return JSON.parse(readFileSync(path.join(dir, "prompts.json"), "utf8")) as number[][];
}

/** GGUF file of a variant. */
export function referenceGguf(variant: ReferenceVariant, dir: string = publicReferenceDir()): string {
  return path.join(dir, `grok-public-b.${variant}.gguf`);
}
