/** onnxruntime-node session creation with the project's options. */
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as ort from "onnxruntime-node";
import type { BuiltGraph, ExternalInitializer } from "../onnx/builder.js";
import type { LinearOptions } from "../onnx/linear.js";
import { dropPackedOnly, packedScalesDroppable, removeBuildFiles, writeBuildFiles } from "./build-files.js";
import { BlockSession, nativeRunner, publicRunner, type GraphRunner } from "./block-session.js";
import { nativeBinding, NativeSession, warnFallbackOnce } from "./native-session.js";
import { disableOrtTelemetryByDefault } from "./telemetry.js";

/** Execution providers a host may ask for. */
export type ExecutionProvider = "cpu" | "cuda";

/** Element type of the KV cache. */
export type KvDtype = "f32" | "f16";

/** Per-process compute options (from the cluster config or CLI flags). */
export interface ComputeOptions {
  /**
   * onnxruntime intra-op threads of every session (default 1, so that processes sharing a machine
   * do not oversubscribe it; `moe generate`/`moe serve` default to {@link defaultThreads}).
   */
  readonly threads?: number;
  /** "cpu" (default) or "cuda" (needs onnxruntime-node's CUDA binaries on the host). */
  readonly executionProvider?: ExecutionProvider;
  /**
   * Q8_0 matmuls lossless to f32 rounding (activations split into three int8 limbs, see
   * model/onnx/linear.ts). Off by default: activations are quantized to int8 per block of 32, as llama.cpp does.
   */
  readonly exactQ8?: boolean;
  /** Expand Q8_0 weights to f32 at load (exact, 4.25× the weight memory). Off by default; wins over exactQ8. */
  readonly dequantizeQ8?: boolean;
  /** @deprecated int8 activations are the default now; ignored. */
  readonly int8Activations?: boolean;
  /** KV cache element type: "f32" (default, SPEC's f32 target) or "f16" (half the memory; keys and values rounded to f16). */
  readonly kvDtype?: KvDtype;
  /**
   * Pools spin inside a run (fast hand-offs between a run's parallel ops) and stop spinning when the run
   * ends (`session.force_spinning_stop`), so idle pools of other sessions do not compete. Only matters
   * with threads > 1.
   */
  readonly spinning?: boolean;
  /** How long a pool spins before sleeping, µs (`session.intra_op.spin_duration_us`); onnxruntime's default when absent. */
  readonly spinDurationUs?: number;
  /**
   * With threads > 1, a block whose graph holds at most {@link smallSessionMaxBytes} of weights gets a
   * second, one-thread session for runs of at most this many rows (default 4: decode at batch 1, an expert's rows at batch 16): at
   * d_model 192 a one-row matmul is too small to split, and waking a second thread costs more than
   * it saves. 0 turns this off.
   */
  readonly singleThreadRows?: number;
  /** Largest graph (bytes of weights) that gets the one-thread session of {@link singleThreadRows}; default 4 MiB. */
  readonly smallSessionMaxBytes?: number;
  /** Intra-op threads of one kind of block, overriding `threads` for it. */
  readonly blockThreads?: Partial<Record<BlockKind, number>>;
  /**
   * Expert parallelism inside the single-process engine: the experts of each layer are split
   * round-robin over this many shares, one on the calling thread and the others in worker threads, and
   * a layer's expert groups run concurrently, one core each (their sessions are one-thread). Results
   * are bit-identical to the serial engine. 0 or 1 (default): off.
   */
  readonly expertWorkers?: number;
  /**
   * A block whose graph has at least this many bytes of external initializers (Q8_0 codes and scales) is
   * built from files (its codes) in a temporary directory ({@link buildDir}; model/blocks/build-files.ts):
   * onnxruntime maps them instead of copying them and the JS arrays are freed first, which lowers the peak
   * memory of a load (full-width Grok-1 Q8_0: 8.66 → 7.82 GiB, same decode speed). Default 64 MiB; Infinity builds every
   * session from memory. CPU only; blocks that get a one-thread session too are built from memory.
   */
  readonly buildFromFilesMinBytes?: number;
  /** Where those files go (a new directory inside, removed once the session is built); default $MOE_BUILD_DIR, else the OS's temporary directory. */
  readonly buildDir?: string;
  /**
   * A session built from files drops the MatMulNBits scales onnxruntime keeps but never reads again (their
   * file is truncated once the session is built: 0.125 bytes per 8-bit weight; see
   * model/blocks/build-files.ts). Default true where that holds ({@link packedScalesDroppable}); false keeps them.
   */
  readonly dropPackedScales?: boolean;
  /**
   * Run the blocks' sessions through onnxruntime-node's native binding, synchronously (default true;
   * falls back to the public async API, warned once, where the binding is not the one checked, and
   * always for "cuda"; `MOE_ORT_SYNC=0` in the environment turns it off for the process). Same results,
   * about 10 µs less per run (model/blocks/native-session.ts).
   */
  readonly syncRuns?: boolean;
  /**
   * Give the sessions a CPU memory arena (default off, see {@link sessionOptions}). Only for graphs whose
   * activations are bounded by their caller: the head's statistics graph, run a few rows at a time,
   * allocates 2–3 fresh V-wide intermediates per row and ran 3× faster with one.
   */
  readonly memArena?: boolean;
  /** f32 matrices of at least this many bytes are fed as graph inputs rather than embedded (default 256 MiB; ONNX protobufs stop at 2 GB). */
  readonly maxInitializerBytes?: number;
  /**
   * How a layer's experts run (model/blocks/expert-layer-block.ts): "layer", one session per layer holding
   * all the layer's experts (an expert host: the experts it holds), run once per step; "expert", one
   * session per (layer, expert), run once per routed expert. Bit-identical results. Default: "layer",
   * "expert" on the exact 8-bit path (`expertSessionsOf`).
   */
  readonly expertSessions?: "layer" | "expert";
  /**
   * With threads > 1, how a layer session uses them: "parallel", onnxruntime's parallel executor
   * (independent expert branches on different cores, inter-op threads = threads, intra-op 1), or
   * "sequential", one op at a time with intra-op threads. Default: see expert-layer-block.ts.
   */
  readonly expertExecutor?: "parallel" | "sequential";
  /** onnxruntime inter-op threads; above 1 the session runs the parallel executor (independent branches at once). Default 1. */
  readonly interOpThreads?: number;
}

/** The kinds of graphs a process runs (for per-kind thread counts). */
export type BlockKind = "attention" | "expert" | "head";

/** The host's cores: what a process that has the machine to itself should use. */
export function defaultThreads(): number {
  return availableParallelism();
}

/** Graph options of the compute options. */
export function linearOptions(opts: ComputeOptions): LinearOptions {
  return {
    q8: opts.dequantizeQ8 ? "dequantize" : opts.exactQ8 ? "exact" : "int8",
    ...(opts.maxInitializerBytes !== undefined ? { maxInitializerBytes: opts.maxInitializerBytes } : {}),
  };
}

/**
 * onnxruntime session options shared by every block. Each session owns its intra-op pool
 * (onnxruntime-node offers no process-wide pool), so the pools must not spin between runs: with
 * spinning on, the idle workers of dozens of sessions busy-wait against the one that runs, and 2 threads
 * ran 12–17× slower than 1 (README, benchmarks). By default a pool's workers sleep; with
 * {@link ComputeOptions.spinning} they spin inside a run and stop when it ends (`session.force_spinning_stop`).
 * `kind` picks the block's thread count ({@link ComputeOptions.blockThreads}).
 *
 * No CPU memory arena (unless {@link ComputeOptions.memArena}): each session's arena keeps the largest
 * activations it ever held (a 1024-token prompt left the Grok-shaped model 480 MB larger for good);
 * without it they are freed after the run, at no measured cost in speed for the blocks' graphs.
 *
 * Every session is created with these options, so this is also where onnxruntime's telemetry is turned
 * off before the process's first session ({@link disableOrtTelemetryByDefault}).
 */
export function sessionOptions(opts: ComputeOptions, kind?: BlockKind): ort.InferenceSession.SessionOptions {
  disableOrtTelemetryByDefault();
  const ep = opts.executionProvider ?? "cpu";
  const threads = threadsOf(opts, kind);
  const spin = opts.spinning === true && threads > 1;
  const intra: Record<string, string> = { allow_spinning: spin ? "1" : "0" };
  const inter = opts.interOpThreads ?? 1;
  const spinInter = opts.spinning === true && inter > 1;
  if (spin && opts.spinDurationUs !== undefined) intra.spin_duration_us = String(opts.spinDurationUs);
  return {
    executionProviders: ep === "cuda" ? ["cuda", "cpu"] : ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: inter,
    graphOptimizationLevel: "all",
    executionMode: inter > 1 ? "parallel" : "sequential",
    enableCpuMemArena: opts.memArena === true,
    extra: { session: { ...(spin || spinInter ? { force_spinning_stop: "1" } : {}), intra_op: intra, inter_op: { allow_spinning: spinInter ? "1" : "0" } } },
  };
}

/** Default {@link ComputeOptions.smallSessionMaxBytes}: 4 MiB. */
export const DEFAULT_SMALL_SESSION_MAX_BYTES = 4 * 2 ** 20;

/** Intra-op threads of a block of `kind`: its {@link ComputeOptions.blockThreads} entry, else `threads` (default 1). */
export function threadsOf(opts: ComputeOptions, kind: BlockKind | undefined): number {
  return (kind !== undefined ? opts.blockThreads?.[kind] : undefined) ?? opts.threads ?? 1;
}

/**
 * A session over a built graph, with the feeds of the weights it takes as inputs (wrapping their arrays, no
 * copy). `builtFromFiles`: onnxruntime loaded it from files ({@link ComputeOptions.buildFromFilesMinBytes});
 * the graph's external arrays are then dropped from `graph.external`.
 */
export async function createGraphSession(
  graph: BuiltGraph,
  opts: ComputeOptions = {},
  kind?: BlockKind,
): Promise<{ session: BlockSession; weights: Record<string, ort.Tensor>; externalBytes: number; builtFromFiles: boolean }> {
  const weights = Object.fromEntries(graph.weights.map((w) => [w.name, new ort.Tensor("float32", w.data, [...w.dims])]));
  const externalBytes = graph.external.reduce((a, e) => a + e.data.byteLength, 0);
  const threads = threadsOf(opts, kind);
  const smallRows = opts.singleThreadRows ?? 4;
  // every weight the graph reads: embedded, external and fed as inputs (full-width f32 matrices are inputs)
  const graphBytes = externalBytes + graph.model.byteLength + graph.weights.reduce((a, w) => a + w.data.byteLength, 0);
  const single = !(threads <= 1 || smallRows < 1 || graphBytes > (opts.smallSessionMaxBytes ?? DEFAULT_SMALL_SESSION_MAX_BYTES) || opts.executionProvider === "cuda");
  const fromFiles = !single && externalBytes >= (opts.buildFromFilesMinBytes ?? DEFAULT_BUILD_FROM_FILES_MIN_BYTES) && (opts.executionProvider ?? "cpu") === "cpu";
  const filed = fromFiles ? await createFromFiles(graph, opts, kind) : undefined;
  const session = filed ?? (await openRunner(graph.model, opts, graph.external, kind));
  if (!single) return { session: new BlockSession(session), weights, externalBytes, builtFromFiles: filed !== undefined };
  const one: ComputeOptions = { ...opts, threads: 1, blockThreads: {} };
  try {
    return { session: new BlockSession(session, await openRunner(graph.model, one, graph.external, kind), smallRows), weights, externalBytes, builtFromFiles: false };
  } catch (e) {
    await session.release();
    throw e;
  }
}

/** Default {@link ComputeOptions.buildFromFilesMinBytes}. */
export const DEFAULT_BUILD_FROM_FILES_MIN_BYTES = 64 * 1024 * 1024;

/**
 * Build `graph`'s session from files ({@link writeBuildFiles}), dropping the graph's arrays of external data
 * (and collecting them) before onnxruntime loads it. Undefined when the files could not be written.
 */
async function createFromFiles(graph: BuiltGraph, opts: ComputeOptions, kind: BlockKind | undefined): Promise<GraphRunner | undefined> {
  const files = writeBuildFiles(graph.model, graph.external, opts.buildDir, opts.dropPackedScales !== false && packedScalesDroppable());
  if (!files) return undefined;
  try {
    (graph.external as ExternalInitializer[]).length = 0; // the graph's only references to the codes and scales
    collectGarbage();
    const runner = await openRunner(files.model, opts, [], kind);
    dropPackedOnly(files);
    return runner;
  } finally {
    removeBuildFiles(files);
  }
}

/** A block whose graph handed onnxruntime this many bytes of initializers collects garbage once built ({@link releaseBuildBuffers}). */
const RELEASE_AFTER_BYTES = 64 * 1024 * 1024;
let gc: (() => void) | null | undefined;

/**
 * After a block's session is built, onnxruntime holds its own (pre-packed) copy of the weights and the
 * arrays the graph was built from are garbage, but V8 frees them only at its next full collection, which
 * a process that then just computes may not reach for a long time (at Grok-1 width the last expert's
 * codes, 680 MB, stayed resident). A session built from at least 64 MiB of initializers therefore runs a
 * full collection at once (V8's `gc`, enabled for this process; a no-op where that is not possible).
 * Call it once the graph is no longer referenced.
 */
export function releaseBuildBuffers(externalBytes: number): void {
  if (externalBytes >= RELEASE_AFTER_BYTES) collectGarbage();
}

/** A full garbage collection (V8's `gc`, enabled for this process; a no-op where that is not possible). */
function collectGarbage(): void {
  if (gc === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      gc = runInNewContext("gc") as () => void;
    } catch {
      gc = null;
    }
  }
  gc?.();
}

/**
 * A session over serialized ModelProto bytes (or an .onnx file's path): on onnxruntime-node's native binding (synchronous runs)
 * unless {@link ComputeOptions.syncRuns} is false, `MOE_ORT_SYNC=0`, the provider is "cuda", or the binding
 * is not as expected (then the public API, warned once).
 */
export async function openRunner(model: Uint8Array | string, opts: ComputeOptions = {}, external: readonly ExternalInitializer[] = [], kind?: BlockKind): Promise<GraphRunner> {
  if (opts.syncRuns === false || process.env.MOE_ORT_SYNC === "0" || (opts.executionProvider ?? "cpu") !== "cpu")
    return publicRunner(await createSession(model, opts, external, kind));
  const { binding, reason } = nativeBinding();
  if (!binding) {
    warnFallbackOnce(reason!);
    return publicRunner(await createSession(model, opts, external, kind));
  }
  return nativeRunner(NativeSession.load(binding, model, withExternal(sessionOptions(opts, kind), external)));
}

function withExternal(so: ort.InferenceSession.SessionOptions, external: readonly ExternalInitializer[]): ort.InferenceSession.SessionOptions {
  return external.length ? { ...so, externalData: external.map((e) => ({ path: e.path, data: e.data })) } : so;
}

/** Create an inference session (public API) from serialized ModelProto bytes. */
export async function createSession(model: Uint8Array | string, opts: ComputeOptions = {}, external: readonly ExternalInitializer[] = [], kind?: BlockKind): Promise<ort.InferenceSession> {
  const ep = opts.executionProvider ?? "cpu";
  try {
    const so = withExternal(sessionOptions(opts, kind), external);
    return await (typeof model === "string" ? ort.InferenceSession.create(model, so) : ort.InferenceSession.create(model, so));
  } catch (e) {
    if (ep !== "cuda") throw e;
    throw new Error(
      `onnxruntime's CUDA execution provider is not available here (${(e as Error).message}); ` +
        "install it on a CUDA 12 host with `npm install --onnxruntime-node-install=cuda12`, or use --execution-provider cpu",
      { cause: e },
    );
  }
}

/** An f32 tensor view over `data` with `dims`. */
export function f32Tensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims as number[]);
}

export type { InferenceSession } from "onnxruntime-node";
export { BlockSession, MAX_LOOP_HOLD_MS, type GraphRunner } from "./block-session.js";
export { CHECKED_ORT_VERSIONS, nativeBinding, type RunOutputs } from "./native-session.js";
