/**
 * A layer of experts in ONE onnxruntime session (graph: model/onnx/expert-layer.ts), run once per
 * layer per step: each expert's rows of x in (gathered here), y [N, D] out (each expert's rows in turn). Routing
 * and combine stay in TS (model/gating.ts); per expert the session runs the same ops on the same shapes
 * as the one-expert session ({@link ExpertBlock}), so the outputs are bit-identical, with one run's fixed
 * cost per layer instead of one per routed expert.
 *
 * With threads > 1 the session either runs onnxruntime's parallel executor (the experts' independent
 * branches on different cores within one run: inter-op threads = threads, intra-op 1) or runs one op at
 * a time with intra-op threads ({@link ComputeOptions.expertExecutor}; default {@link DEFAULT_EXPERT_EXECUTOR}).
 */
import type * as ort from "onnxruntime-node";
import { Tensor } from "onnxruntime-node";
import type { ExpertWeights } from "../onnx/expert.js";
import { gatherRows } from "../gating.js";
import { buildExpertLayerGraph } from "../onnx/expert-layer.js";
import { createGraphSession, DEFAULT_SMALL_SESSION_MAX_BYTES, f32Tensor, linearOptions, releaseBuildBuffers, threadsOf, type BlockSession, type ComputeOptions } from "./session.js";

/** How a layer session uses threads > 1 unless {@link ComputeOptions.expertExecutor} says otherwise (chosen by `moe bench engine`, README). */
export const DEFAULT_EXPERT_EXECUTOR: "parallel" | "sequential" = "sequential";

/**
 * How a process runs its experts: {@link ComputeOptions.expertSessions}, else "layer", except on the exact
 * 8-bit path ("expert"): its expert subgraph is ~60 ops, and at decode the six experts of a layer that get
 * no rows cost more in a layer session (~120 µs a layer) than the runs it saves (README, benchmarks).
 */
export function expertSessionsOf(opts: ComputeOptions): "layer" | "expert" {
  return opts.expertSessions ?? (opts.exactQ8 === true && opts.dequantizeQ8 !== true ? "expert" : "layer");
}

/**
 * Most weight bytes (as stored) in one layer session: a layer whose experts hold more is split into several
 * sessions ({@link buildLayerSessions}). Building a session holds its weights twice for a moment (the arrays
 * built for the graph and onnxruntime's copy), so one session over a full-width Grok-1 layer (8 experts,
 * 5.1 GB in Q8_0) would double the peak memory; at that width a run is milliseconds of compute and one
 * session per expert costs nothing that matters. 1 GiB.
 */
export const LAYER_SESSION_MAX_BYTES = 2 ** 30;

/** Bytes of an expert's weights as stored (f32 values or Q8_0 blocks). */
export function expertWeightBytes(w: ExpertWeights): number {
  return [w.gate, w.up, w.down].reduce((a, m) => a + (m.kind === "f32" ? m.data.byteLength : m.blocks.byteLength), 0);
}

/**
 * The sessions of `experts` (of one layer, in this order), each holding consecutive experts up to
 * {@link LAYER_SESSION_MAX_BYTES} (at least one each); weights are read with `load` one session at a time.
 */
export async function buildLayerSessions(
  experts: readonly number[],
  load: (expert: number) => ExpertWeights,
  opts: ComputeOptions = {},
  maxBytes = LAYER_SESSION_MAX_BYTES,
): Promise<ExpertLayerBlock[]> {
  const out: ExpertLayerBlock[] = [];
  try {
    let part: LayerExpert[] = [];
    let bytes = 0;
    for (const [i, expert] of experts.entries()) {
      const weights = load(expert);
      part.push({ expert, weights });
      bytes += expertWeightBytes(weights);
      const next = experts[i + 1];
      // the next expert is assumed as large as this one: the session closes before it would pass the limit
      if (next === undefined || bytes + expertWeightBytes(weights) > maxBytes) {
        out.push(await ExpertLayerBlock.create(part, opts));
        part = [];
        bytes = 0;
      }
    }
  } catch (e) {
    for (const b of out) await b.close();
    throw e;
  }
  return out;
}

/** One expert of a layer session: its index in the model and its weights. */
export interface LayerExpert {
  readonly expert: number;
  readonly weights: ExpertWeights;
}

/** Rows of x for some of a layer's experts: `rows[i]` are the indices (into x) of `experts[i]`'s rows. */
export interface ExpertRows {
  readonly experts: readonly number[];
  readonly rows: readonly Int32Array[];
}

export class ExpertLayerBlock {
  private readonly slots: ReadonlyMap<number, number>;

  private constructor(
    /** Model width D. */
    readonly dModel: number,
    /** The experts this session holds (model indices), slot order. */
    readonly experts: readonly number[],
    /** Whether it runs onnxruntime's parallel executor. */
    readonly parallel: boolean,
    private readonly session: BlockSession,
    /** Weights fed as graph inputs (large f32 matrices). */
    private readonly weights: Record<string, ort.Tensor>,
    /** Bytes of its experts' weights as stored (f32 values or Q8_0 blocks; {@link expertWeightBytes}): what the session holds resident. */
    readonly weightBytes: number,
  ) {
    this.slots = new Map(experts.map((e, i) => [e, i]));
  }

  /** Build one session over `experts` (distinct expert indices of one layer, at least one). */
  static async create(experts: readonly LayerExpert[], opts: ComputeOptions = {}): Promise<ExpertLayerBlock> {
    if (experts.length === 0) throw new RangeError("ExpertLayerBlock: no experts");
    if (new Set(experts.map((x) => x.expert)).size !== experts.length) throw new RangeError("ExpertLayerBlock: an expert is listed twice");
    const threads = threadsOf(opts, "expert");
    const parallel = threads > 1 && experts.length > 1 && opts.executionProvider !== "cuda" && (opts.expertExecutor ?? DEFAULT_EXPERT_EXECUTOR) === "parallel";
    // parallel: the cores go to the branches (inter-op), each op runs on one thread
    // sequential: a layer of small experts gets the one-thread twin for runs of few rows (decode) that each of
    // its experts got as a session of its own (ComputeOptions.singleThreadRows): the same weights, no more
    const small = (opts.smallSessionMaxBytes ?? DEFAULT_SMALL_SESSION_MAX_BYTES) * experts.length;
    const so: ComputeOptions = parallel
      ? { ...opts, blockThreads: { ...opts.blockThreads, expert: 1 }, interOpThreads: Math.min(threads, experts.length) }
      : { ...opts, smallSessionMaxBytes: small };
    const s = await createGraphSession(buildExpertLayerGraph(experts.map((x) => x.weights), linearOptions(opts)), so, "expert");
    releaseBuildBuffers(s.externalBytes);
    const bytes = experts.reduce((a, x) => a + expertWeightBytes(x.weights), 0);
    return new ExpertLayerBlock(experts[0]!.weights.gate.in, experts.map((x) => x.expert), parallel, s.session, s.weights, bytes);
  }

  /** Whether this session holds `expert`. */
  holds(expert: number): boolean {
    return this.slots.has(expert);
  }

  /**
   * One run for the experts in `rows` (each held here, each at most once; the session's other experts
   * get no rows): x [R, D] row-major. @returns y [N, D] (N = Σ rows.rows[i].length): the output rows
   * of each expert in the order of its indices, the experts in this session's order ({@link experts})
   */
  async run(x: Float32Array, rows: ExpertRows): Promise<Float32Array> {
    const D = this.dModel;
    const R = x.length / D;
    const S = this.experts.length;
    const bySlot: (Int32Array | undefined)[] = new Array(S);
    rows.experts.forEach((e, k) => {
      const i = this.slots.get(e);
      if (i === undefined) throw new RangeError(`ExpertLayerBlock: expert ${e} is not in this session (holds ${this.experts.join(", ")})`);
      if (bySlot[i]) throw new RangeError(`ExpertLayerBlock: expert ${e} is listed twice`);
      bySlot[i] = rows.rows[k]!;
    });
    const N = rows.rows.reduce((a, r) => a + r.length, 0);
    const xs = new Float32Array(N * D);
    const counts = new BigInt64Array(S);
    const order = rows.experts.map((e) => this.slots.get(e)!).sort((a, b) => a - b);
    let j = 0;
    for (const i of order) {
      const r = bySlot[i]!;
      counts[i] = BigInt(r.length);
      for (const v of r) if (!(v >= 0 && v < R)) throw new RangeError(`ExpertLayerBlock: row index ${v} is outside [0, ${R})`);
      gatherRows(x, D, r, xs.subarray(j * D, (j + r.length) * D));
      j += r.length;
    }
    const out = await this.session.run(R, {
      x: f32Tensor(xs, [N, D]),
      counts: new Tensor("int64", counts, [S]),
      ...this.weights,
    });
    return out.y!.data as Float32Array;
  }

  /**
   * {@link run} for `rows`, its output split per expert: expert → its output rows [rows.length, D] (views
   * of one array), for every expert in `rows`.
   */
  async runPerExpert(x: Float32Array, rows: ExpertRows): Promise<Map<number, Float32Array>> {
    const y = await this.run(x, rows);
    const D = this.dModel;
    const k = rows.experts.map((_, n) => n).sort((a, b) => this.slots.get(rows.experts[a]!)! - this.slots.get(rows.experts[b]!)!);
    const out = new Map<number, Float32Array>();
    let o = 0;
    for (const n of k) {
      const len = rows.rows[n]!.length * D;
      out.set(rows.experts[n]!, y.subarray(o, o + len));
      o += len;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
