/**
 * The layer-range engine core: computes layers [first, end) of a model for
 * many sequences at once — with the embedding when first = 0, with the final
 * norm, unembedding and sampling when end = L — and owns those sequences'
 * KV caches, positions and samplers. The single-process engine, `moe generate`
 * and every stage host are thin shells over it; they differ only in where the
 * rows come from and where the MoE step of each layer runs.
 */
import type { ModelConfig } from "../config.js";
import { EmbeddingTable } from "../blocks/embedding.js";
import { HeadBlock, type HeadOutput } from "../blocks/head-block.js";
import type { LayerKv } from "../blocks/kv-cache.js";
import { headWeights } from "../blocks/load-weights.js";
import type { ComputeOptions } from "../blocks/session.js";
import { StepError } from "../errors.js";
import { Sampler, type Sampled, type SamplingParams } from "../sampling.js";
import type { WeightReader } from "../weights/types.js";
import { LayerStack, type MoeExecutor } from "./layer-stack.js";
import { groupRows, ROW_FLAGS, type RowGroup, type StepRows } from "./rows.js";

/** Options of {@link LayerRangeEngine.create}. */
export interface CoreOptions {
  /** Layer range [first, endExclusive); default every layer. */
  readonly layers?: readonly [number, number];
  readonly compute?: ComputeOptions;
  /** A sequence not stepped for this long is reclaimed by {@link LayerRangeEngine.reclaimIdle}, ms. Default 300 000. */
  readonly idleTimeoutMs?: number;
  /** Clock (ms), for tests. */
  readonly now?: () => number;
  /**
   * When given, the head is built first, then this runs (the single-process engine builds its experts
   * there), then the layers' attention blocks; without it, the attention blocks come first, then the head.
   * Build order sets the peak memory of a load: building a session holds, for a moment, the weights being
   * packed on top of everything already built, so for 8-bit models the largest transients (the head's
   * 131072-row matrix, then the experts') come while the process is emptier and the small attention blocks
   * last (full-width Grok-1 Q8_0: README).
   */
  readonly afterHead?: () => Promise<void>;
}

/** A sampled token of one sequence. */
export interface SampledRow extends Sampled {
  readonly seq: number;
}

/** What a step produces. */
export interface StepOutput {
  /** Not the last layer range: the residual rows `[rows, d_model]`, in row order. */
  readonly hidden?: Float32Array;
  /** The last range: one entry per row flagged `sample`, in row order. */
  readonly sampled?: SampledRow[];
  /** The last range, rows flagged `logits`: their seq, pos and logits `[R, vocab]`. */
  readonly logits?: { readonly seq: Uint32Array; readonly pos: Uint32Array; readonly values: Float32Array };
}

interface LiveSequence {
  readonly kv: LayerKv[];
  sampler?: Sampler;
  lastUsed: number;
}

/** The sampling settings of row `i`. */
function paramsAt(r: StepRows, i: number, bias: ReadonlyMap<number, number> | undefined): SamplingParams {
  return {
    temperature: r.temperature[i]!,
    topP: r.top_p[i]!,
    topK: r.top_k[i]!,
    minP: r.min_p[i]!,
    presencePenalty: r.presence_penalty[i]!,
    frequencyPenalty: r.frequency_penalty[i]!,
    repetitionPenalty: r.repetition_penalty[i]!,
    topLogprobs: r.top_logprobs[i]!,
    ...(r.flags[i]! & ROW_FLAGS.seeded ? { seed: r.seed[i]! } : {}),
    ...(bias?.size ? { logitBias: bias } : {}),
  };
}

export class LayerRangeEngine {
  private readonly live = new Map<number, LiveSequence>();
  private readonly biases = new Map<number, ReadonlyMap<number, number>>();
  private readonly idleTimeoutMs: number;
  private readonly now: () => number;
  private closed = false;
  /** Sequences reclaimed after sitting idle, since start. */
  reclaimed = 0;

  private constructor(
    readonly config: ModelConfig,
    readonly first: number,
    readonly end: number,
    private readonly stack: LayerStack,
    private readonly embedding: EmbeddingTable | undefined,
    private readonly head: HeadBlock | undefined,
    opts: CoreOptions,
  ) {
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 300_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Load layers [first, end) (and the embedding / head when the range starts / ends the model): the layers'
   * attention blocks, then the head; with {@link CoreOptions.afterHead}, the head first, then afterHead, then
   * the attention blocks (see there why).
   */
  static async create(cfg: ModelConfig, reader: WeightReader, opts: CoreOptions = {}): Promise<LayerRangeEngine> {
    const [first, end] = opts.layers ?? [0, cfg.nLayers];
    const embedding = first === 0 ? EmbeddingTable.load(reader, cfg) : undefined;
    const createHead = () => (end === cfg.nLayers ? HeadBlock.create(cfg, headWeights(reader, cfg, embedding?.f32Values ?? undefined), opts.compute) : Promise.resolve(undefined));
    let stack: LayerStack | undefined;
    let head: HeadBlock | undefined;
    try {
      if (!opts.afterHead) stack = await LayerStack.create(cfg, reader, first, end, opts.compute);
      head = await createHead();
      await opts.afterHead?.();
      stack ??= await LayerStack.create(cfg, reader, first, end, opts.compute);
      return new LayerRangeEngine(cfg, first, end, stack, embedding, head, opts);
    } catch (e) {
      await head?.close();
      await stack?.close();
      throw e;
    }
  }

  /** This range starts the model (takes token ids). */
  get isFirst(): boolean {
    return this.first === 0;
  }

  /** This range ends the model (samples tokens). */
  get isLast(): boolean {
    return this.end === this.config.nLayers;
  }

  /** Sequences holding KV caches here. */
  get liveSequences(): number {
    return this.live.size;
  }

  /** Tokens cached for `seq` (= its next position), or undefined when it is not live. */
  length(seq: number): number | undefined {
    return this.live.get(seq)?.kv[0]!.len;
  }

  /** Logit bias of a sequence, applied by its sampler from its first step on (last range only). */
  setLogitBias(seq: number, bias: ReadonlyMap<number, number>): void {
    if (bias.size) this.biases.set(seq, bias);
    else this.biases.delete(seq);
  }

  /**
   * Run one step.
   * @param rows each sequence's rows contiguous at consecutive positions; a group at position 0 starts the sequence afresh
   * @param hidden residual rows `[rows, d_model]` from the previous range; absent on the first range (tokens are embedded)
   * @param moe the MoE step of each layer (in process, or through a router)
   * @throws StepError for rows that do not fit the live sequences; a failed step drops its sequences' caches
   */
  async step(rows: StepRows, hidden: Float32Array | undefined, moe: MoeExecutor): Promise<StepOutput> {
    if (this.closed) throw new Error("the engine core is closed");
    const groups = groupRows(rows.seq, rows.pos);
    const x = hidden ?? this.embed(rows.token);
    const D = this.config.dModel;
    const items = groups.map((g) => ({ kv: this.cachesFor(g, rows).kv, x: x.subarray(g.start * D, (g.start + g.count) * D) }));
    let h: Float32Array;
    try {
      h = await this.stack.forward(items, moe);
    } catch (e) {
      for (const g of groups) this.live.delete(g.seq); // half-written caches
      throw e;
    }
    if (!this.isLast) return { hidden: h };
    return this.sample(groups, rows, h);
  }

  private embed(tokens: Uint32Array): Float32Array {
    if (!this.embedding) throw new StepError("BAD_ROWS", `layers [${this.first}, ${this.end}) take hidden rows, not token ids`);
    return this.embedding.rows(tokens);
  }

  /** The caches of a row group's sequence; a group at position 0 starts it afresh. */
  private cachesFor(g: RowGroup, rows: StepRows): LiveSequence {
    const ctx = this.config.contextLength;
    if (g.lastPos >= ctx) throw new StepError("CONTEXT_EXCEEDED", `sequence ${g.seq} would reach position ${g.lastPos}, past the context length ${ctx}`);
    let s = this.live.get(g.seq);
    if (g.firstPos === 0) {
      s = { kv: this.stack.newCaches(), lastUsed: 0 };
      if (this.isLast) s.sampler = new Sampler(paramsAt(rows, g.start, this.biases.get(g.seq)));
      this.live.set(g.seq, s);
    }
    if (!s) throw new StepError("UNKNOWN_SEQUENCE", `sequence ${g.seq} is unknown here (position ${g.firstPos}); it was released, reclaimed after sitting idle, or never started`);
    if (s.kv[0]!.len !== g.firstPos) throw new StepError("POSITION_MISMATCH", `sequence ${g.seq} has ${s.kv[0]!.len} cached tokens but the step starts at position ${g.firstPos}`);
    s.lastUsed = this.now();
    return s;
  }

  /** Last range: head on the rows flagged `sample` or `logits`, then sample. */
  private async sample(groups: readonly RowGroup[], rows: StepRows, h: Float32Array): Promise<StepOutput> {
    const D = this.config.dModel;
    const V = this.config.vocabSize;
    const want: number[] = [];
    for (let i = 0; i < rows.flags.length; i++) if (rows.flags[i]! & (ROW_FLAGS.sample | ROW_FLAGS.logits)) want.push(i);
    for (const g of groups) {
      const sampler = this.live.get(g.seq)!.sampler!;
      for (let i = g.start; i < g.start + g.count; i++) if (rows.flags[i]! & ROW_FLAGS.prompt) sampler.observePrompt(rows.token.subarray(i, i + 1));
    }
    if (want.length === 0) return { sampled: [] };
    let x = h; // every row wanted (a decode step): the rows as they are
    if (want.length * D !== h.length) {
      x = new Float32Array(want.length * D);
      want.forEach((r, i) => x.set(h.subarray(r * D, (r + 1) * D), i * D));
    }
    // the logits' statistics only when a row samples (a logits-only step, Engine.forward, skips them)
    const sampling = want.some((r) => rows.flags[r]! & ROW_FLAGS.sample);
    const head: Partial<HeadOutput> & { logits: Float32Array } = sampling ? await this.head!.runWithStats(x) : { logits: await this.head!.run(x) };
    const logits = head.logits;
    const sampled: SampledRow[] = [];
    const logitRows: number[] = [];
    want.forEach((r, i) => {
      const f = rows.flags[r]!;
      if (f & ROW_FLAGS.logits) logitRows.push(i);
      if (f & ROW_FLAGS.sample) sampled.push({ seq: rows.seq[r]!, ...this.live.get(rows.seq[r]!)!.sampler!.sample(logits, i * V, V, { max: head.max![i]!, min: head.min![i]!, lse: head.lse![i]! }) });
    });
    if (logitRows.length === 0) return { sampled };
    const values = logitRows.length === want.length ? logits : new Float32Array(logitRows.length * V);
    if (values !== logits) logitRows.forEach((i, k) => values.set(logits.subarray(i * V, (i + 1) * V), k * V));
    const picked = logitRows.map((i) => want[i]!);
    return { sampled, logits: { seq: Uint32Array.from(picked, (r) => rows.seq[r]!), pos: Uint32Array.from(picked, (r) => rows.pos[r]!), values } };
  }

  /** Free sequences' caches, samplers and biases; with none left live, the attention blocks' batch scratch too. */
  release(seqs: Iterable<number>): void {
    for (const s of seqs) {
      this.live.delete(s);
      this.biases.delete(s);
    }
    if (this.live.size === 0) this.stack.trimScratch();
  }

  /**
   * Free every sequence not stepped for longer than the idle timeout (its client died without
   * releasing it). @returns the sequences reclaimed
   */
  reclaimIdle(): number[] {
    const cutoff = this.now() - this.idleTimeoutMs;
    const gone: number[] = [];
    for (const [seq, s] of this.live) if (s.lastUsed < cutoff) gone.push(seq);
    this.release(gone);
    this.reclaimed += gone.length;
    return gone;
  }

  /** Free every session; safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.live.clear();
    await this.stack.close();
    await this.head?.close();
  }
}
