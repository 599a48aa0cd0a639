/** onnxruntime-node session creation with the project's options. */
import * as ort from "onnxruntime-node";

/** Execution providers a host may ask for. */
export type ExecutionProvider = "cpu" | "cuda";

/** Per-process compute options (from the cluster config or CLI flags). */
export interface ComputeOptions {
  /** onnxruntime intra-op threads (default 1: processes sharing a machine must not oversubscribe it). */
  readonly threads?: number;
  /** "cpu" (default) or "cuda" (needs onnxruntime-node's CUDA binaries on the host). */
  readonly executionProvider?: ExecutionProvider;
  /** Let MatMulNBits quantize activations to int8 (accuracy level 4). Off by default: not lossless. */
  readonly int8Activations?: boolean;
  /** Expand Q8_0 weights to f32 at load (exact, 4.25× the weight memory, faster on CPU). Off by default. */
  readonly dequantizeQ8?: boolean;
}

/** Graph options of the compute options. */
export function linearOptions(opts: ComputeOptions): { accuracyLevel: number; dequantize: boolean } {
  return { accuracyLevel: opts.int8Activations ? 4 : 0, dequantize: opts.dequantizeQ8 === true };
}

/** Create an inference session from serialized ModelProto bytes. */
export async function createSession(model: Uint8Array, opts: ComputeOptions = {}): Promise<ort.InferenceSession> {
  const ep = opts.executionProvider ?? "cpu";
  try {
    return await open(model, ep, opts);
  } catch (e) {
    if (ep !== "cuda") throw e;
    throw new Error(
      `onnxruntime's CUDA execution provider is not available here (${(e as Error).message}); ` +
        "install it on a CUDA 12 host with `npm install --onnxruntime-node-install=cuda12`, or use --execution-provider cpu",
      { cause: e },
    );
  }
}

function open(model: Uint8Array, ep: ExecutionProvider, opts: ComputeOptions): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    executionProviders: ep === "cuda" ? ["cuda", "cpu"] : ["cpu"],
    intraOpNumThreads: opts.threads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
  });
}

/** An f32 tensor view over `data` with `dims`. */
export function f32Tensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims as number[]);
}

export type { InferenceSession } from "onnxruntime-node";
