/**
 * The single-process engine: embedding → all layers (attention sessions +
 * in-process experts) → final norm + unembedding, with a KV cache per
 * sequence. Batches mix prefill and decode of sequences at different positions.
 */
import type { ModelConfig } from "../config.js";
import { EmbeddingTable } from "../blocks/embedding.js";
import { HeadBlock } from "../blocks/head-block.js";
import type { LayerKv } from "../blocks/kv-cache.js";
import { headWeights } from "../blocks/load-weights.js";
import type { ComputeOptions } from "../blocks/session.js";
import type { WeightReader } from "../weights/types.js";
import { LayerStack } from "./layer-stack.js";
import { LocalMoe } from "./local-moe.js";

/** A live sequence: its id, KV caches and number of cached positions. */
export interface EngineSequence {
  readonly id: number;
  readonly kv: readonly LayerKv[];
  /** Tokens processed so far (= next position). */
  readonly length: number;
}

/** One sequence's share of a forward call: its new tokens. */
export interface ForwardItem {
  readonly seq: EngineSequence;
  readonly tokens: readonly number[];
}

export class Engine {
  private nextId = 1;
  private closed = false;
  private readonly live = new Set<number>();

  private constructor(
    readonly config: ModelConfig,
    private readonly embedding: EmbeddingTable,
    private readonly stack: LayerStack,
    readonly moe: LocalMoe,
    private readonly head: HeadBlock,
  ) {}

  /** Build every block from the weights (reads the whole model once). */
  static async create(config: ModelConfig, reader: WeightReader, opts: ComputeOptions = {}): Promise<Engine> {
    const embedding = EmbeddingTable.load(reader, config);
    const stack = await LayerStack.create(config, reader, 0, config.nLayers, opts);
    const moe = await LocalMoe.create(config, reader, 0, config.nLayers, opts);
    const head = await HeadBlock.create(config, headWeights(reader, config), opts);
    return new Engine(config, embedding, stack, moe, head);
  }

  /** Start a sequence with empty caches. */
  newSequence(): EngineSequence {
    const seq = { id: this.nextId++, kv: this.stack.newCaches(), get length() { return this.kv[0]!.len; } };
    this.live.add(seq.id);
    return seq;
  }

  /** Forget a sequence (its caches become garbage). */
  release(seq: EngineSequence): void {
    this.live.delete(seq.id);
  }

  /** Number of live sequences. */
  get liveSequences(): number {
    return this.live.size;
  }

  /**
   * Run new tokens of several sequences at once. Returns logits [B, V] of the
   * last new token of each item, or [N, V] of every new token with `allPositions`.
   */
  async forward(items: readonly ForwardItem[], opts: { allPositions?: boolean } = {}): Promise<Float32Array> {
    const D = this.config.dModel;
    for (const it of items) {
      if (!this.live.has(it.seq.id)) throw new Error(`sequence ${it.seq.id} is not live`);
      if (it.tokens.length === 0) throw new RangeError(`sequence ${it.seq.id}: no tokens to forward`);
      if (it.seq.length + it.tokens.length > this.config.contextLength)
        throw new RangeError(`sequence ${it.seq.id}: ${it.seq.length + it.tokens.length} tokens exceed the context length ${this.config.contextLength}`);
    }
    const h = await this.stack.forward(
      items.map((it) => ({ kv: it.seq.kv, x: this.embedding.rows(it.tokens) })),
      this.moe,
    );
    if (opts.allPositions) return this.head.run(h);
    const last = new Float32Array(items.length * D);
    let r = 0;
    items.forEach((it, b) => {
      r += it.tokens.length;
      last.set(h.subarray((r - 1) * D, r * D), b * D);
    });
    return this.head.run(last);
  }

  /** Free every session; safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stack.close();
    await this.moe.close();
    await this.head.close();
  }
}
