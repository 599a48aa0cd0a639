/**
 * The single-process engine: one {@link LayerRangeEngine} over every layer
 * with the experts in process ({@link LocalMoe}). `forward` returns logits for
 * cross-checks and tests; generation goes through `step` (the same core and
 * sampling a stage host runs).
 */
import type { ModelConfig } from "../config.js";
import type { ComputeOptions } from "../blocks/session.js";
import { layerTensorNames } from "../accounting.js";
import type { WeightReader } from "../weights/types.js";
import { LayerRangeEngine, type StepOutput } from "./core.js";
import { LocalMoe } from "./local-moe.js";
import { stepRows, type StepRows } from "./rows.js";

/** A live sequence of {@link Engine.forward}: its id and number of cached positions. */
export interface EngineSequence {
  readonly id: number;
  /** Tokens processed so far (= next position). */
  readonly length: number;
}

/** One sequence's share of a forward call: its new tokens. */
export interface ForwardItem {
  readonly seq: EngineSequence;
  readonly tokens: readonly number[];
}

/** Options of {@link Engine.create}. */
export interface EngineOptions extends ComputeOptions {
  /** Reclaim sequences idle this long, ms (see {@link LayerRangeEngine.reclaimIdle}). */
  readonly idleTimeoutMs?: number;
}

/**
 * Whether the model's matrices are 8-bit ones onnxruntime pre-packs (Q8_0 not expanded to f32): building such a
 * session holds its codes for a moment on top of what is built, a transient that grows with the session, so
 * the head (largest) goes first, then the experts, then the attention blocks. f32 models keep the attention
 * first: their large matrices are graph inputs (no packing) and the attention's embedded, pre-packed matrices
 * are the largest transient (full-width f32: 7.98 GiB peak attention first, 8.48 last).
 */
function packedEightBit(config: ModelConfig, reader: WeightReader, compute: ComputeOptions): boolean {
  if (compute.dequantizeQ8 || config.nLayers === 0) return false;
  try {
    return reader.info(layerTensorNames(0).q).dtype === "Q8_0";
  } catch {
    return false;
  }
}

export class Engine {
  private nextId = 1;
  private readonly started = new Set<number>();

  private constructor(
    readonly core: LayerRangeEngine,
    readonly moe: LocalMoe,
  ) {}

  /** Build every block from the weights (reads the whole model once). */
  static async create(config: ModelConfig, reader: WeightReader, opts: EngineOptions = {}): Promise<Engine> {
    const { idleTimeoutMs, ...compute } = opts;
    const idle = idleTimeoutMs !== undefined ? { idleTimeoutMs } : {};
    // 8-bit: the experts are built between the head and the attention blocks (CoreOptions.afterHead: the peak memory of a load)
    const headFirst = packedEightBit(config, reader, compute);
    let moe: LocalMoe | undefined;
    const createMoe = async () => {
      moe = await LocalMoe.create(config, reader, 0, config.nLayers, compute);
    };
    let core: LayerRangeEngine | undefined;
    try {
      core = await LayerRangeEngine.create(config, reader, { compute, ...idle, ...(headFirst ? { afterHead: createMoe } : {}) });
      if (!headFirst) await createMoe();
      return new Engine(core, moe!);
    } catch (e) {
      await moe?.close();
      await core?.close();
      throw e;
    }
  }

  get config(): ModelConfig {
    return this.core.config;
  }

  /** Run one step of many sequences (see {@link LayerRangeEngine.step}). */
  step(rows: StepRows): Promise<StepOutput> {
    return this.core.step(rows, undefined, this.moe);
  }

  /** Start a sequence for {@link forward} (ids from 2^31 up, apart from step ids). */
  newSequence(): EngineSequence {
    const id = 0x80000000 + this.nextId++;
    const core = this.core;
    return { id, get length() { return core.length(id) ?? 0; } };
  }

  /** Forget a sequence. */
  release(seq: EngineSequence): void {
    this.started.delete(seq.id);
    this.core.release([seq.id]);
  }

  /** Number of live sequences. */
  get liveSequences(): number {
    return this.core.liveSequences;
  }

  /**
   * Run new tokens of several sequences at once (greedy bookkeeping, nothing sampled). Returns logits
   * [B, V] of the last new token of each item, or [N, V] of every new token with `allPositions`.
   */
  async forward(items: readonly ForwardItem[], opts: { allPositions?: boolean } = {}): Promise<Float32Array> {
    const rows = stepRows(
      items.map((it) => {
        const pos = this.started.has(it.seq.id) ? it.seq.length : 0;
        if (pos + it.tokens.length > this.config.contextLength)
          throw new RangeError(`sequence ${it.seq.id}: ${pos + it.tokens.length} tokens exceed the context length ${this.config.contextLength}`);
        return { seq: it.seq.id, pos, tokens: it.tokens, sample: false, wantLogits: true, allLogits: opts.allPositions };
      }),
    );
    const out = await this.step(rows);
    for (const it of items) this.started.add(it.seq.id);
    return out.logits!.values;
  }

  /** Free every session; safe to call more than once. */
  async close(): Promise<void> {
    await this.core.close();
    await this.moe.close();
  }
}
