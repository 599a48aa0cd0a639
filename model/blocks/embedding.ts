/**
 * Token embedding gather: rows of `token_embd` [V, D] times the embedding
 * multiplier. Q8_0 tables stay packed and are dequantised per row (exactly),
 * so a 131072×6144 table never needs an f32 copy; when the reader reads byte
 * ranges, a Q8_0 table stays on disk and each token reads its one row
 * (6.5 KB at Grok-1 width) instead of holding the table (855 MB) in memory.
 */
import type { ModelConfig } from "../config.js";
import { dequantizeQ8_0, Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from "../dtype.js";
import { WeightFileError } from "../errors.js";
import type { WeightReader } from "../weights/types.js";

const NAME = "token_embd.weight";

export class EmbeddingTable {
  private constructor(
    private readonly cfg: ModelConfig,
    private readonly f32: Float32Array | null,
    private readonly q8: Uint8Array | null,
    /** Q8_0 row `t` read from the file (when the table is not held). */
    private readonly q8Row: ((t: number) => Uint8Array) | null = null,
  ) {}

  /** Load `token_embd.weight` from the reader. */
  static load(reader: WeightReader, cfg: ModelConfig): EmbeddingTable {
    const info = reader.info(NAME);
    const [V, D] = [info.shape[0]!, info.shape[1]!];
    if (D !== cfg.dModel || V !== cfg.vocabSize)
      throw new WeightFileError(`${reader.file}: tensor '${NAME}' is [${V}, ${D}], expected [${cfg.vocabSize}, ${cfg.dModel}]`, { file: reader.file, tensor: NAME });
    if (info.dtype === "Q8_0") {
      const rowBytes = (D / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
      if (reader.readRawRange) return new EmbeddingTable(cfg, null, null, (t) => reader.readRawRange!(NAME, undefined, t * rowBytes, rowBytes));
      return new EmbeddingTable(cfg, null, reader.readRaw(NAME).bytes);
    }
    return new EmbeddingTable(cfg, reader.readF32(NAME), null);
  }

  /** The table's f32 values [V, D] when it is stored unquantised (shared with a tied head), else null. */
  get f32Values(): Float32Array | null {
    return this.f32;
  }

  /** Scaled embedding rows [tokens.length, D]; throws RangeError on an id outside the vocabulary. */
  rows(tokens: ArrayLike<number>): Float32Array {
    const D = this.cfg.dModel;
    const scale = this.cfg.embeddingScale;
    const out = new Float32Array(tokens.length * D);
    const rowBytes = (D / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
    for (let r = 0; r < tokens.length; r++) {
      const t = tokens[r]!;
      if (!Number.isInteger(t) || t < 0 || t >= this.cfg.vocabSize) throw new RangeError(`token id ${t} is outside the vocabulary [0, ${this.cfg.vocabSize})`);
      const row = this.f32 ? this.f32.subarray(t * D, (t + 1) * D) : dequantizeQ8_0(this.q8 ? this.q8.subarray(t * rowBytes, (t + 1) * rowBytes) : this.q8Row!(t));
      for (let i = 0; i < D; i++) out[r * D + i] = row[i]! * scale;
    }
    return out;
  }
}
