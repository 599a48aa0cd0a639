/**
 * Catalogue of common devices, so that `gpu: h100-80gb` is enough in a
 * cluster file. Figures are vendor peaks (dense, no sparsity); explicit
 * numbers in the cluster file override them. The cost model applies its own
 * efficiency factors to these peaks.
 */

/** Weight storage dtypes the planner plans for (model/accounting's names). */
export type WeightDType = "f32" | "bf16" | "f16" | "int8" | "q8_0";
export const WEIGHT_DTYPES: readonly WeightDType[] = ["f32", "bf16", "f16", "int8", "q8_0"];

/** Execution providers a host may run onnxruntime with. */
export type ExecutionProvider = "cpu" | "cuda" | "coreml" | "rocm" | "dml" | "webgpu";
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ["cpu", "cuda", "coreml", "rocm", "dml", "webgpu"];

/** One device kind. */
export interface DeviceSpec {
  readonly key: string;
  readonly description: string;
  /** Memory the runtime can address, bytes (as `nvidia-smi` reports it for GPUs). */
  readonly memoryBytes: number;
  /** Memory taken by the runtime/OS before any tensor (CUDA context, macOS GPU limit), bytes. */
  readonly reserveBytes: number;
  /** Peak memory bandwidth, bytes/s. */
  readonly memoryBandwidth: number;
  /**
   * Peak FLOP/s of a matmul whose weights are stored in each dtype. Weight-only
   * int8/Q8_0 (onnxruntime `MatMulNBits`) dequantises to f16 on GPUs, so it runs
   * at the f16 tensor rate there; CPUs use int8 dot products (VNNI/dotprod).
   */
  readonly compute: Readonly<Record<WeightDType, number>>;
  readonly executionProvider: ExecutionProvider;
}

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const T = 1e12;

function gpu(key: string, description: string, memMiB: number, bw: number, f32: number, f16: number): DeviceSpec {
  return Object.freeze({
    key,
    description,
    memoryBytes: memMiB * MiB,
    reserveBytes: 1 * GiB,
    memoryBandwidth: bw,
    compute: Object.freeze({ f32, bf16: f16, f16, int8: f16, q8_0: f16 }),
    executionProvider: "cuda" as const,
  });
}

function apple(key: string, description: string, memGiB: number, bw: number, f32: number): DeviceSpec {
  return Object.freeze({
    key,
    description,
    memoryBytes: memGiB * GiB,
    // macOS lets the GPU wire about 75% of unified memory by default.
    reserveBytes: 0.25 * memGiB * GiB,
    memoryBandwidth: bw,
    compute: Object.freeze({ f32, bf16: f32, f16: f32, int8: f32, q8_0: f32 }),
    executionProvider: "coreml" as const,
  });
}

/** Built-in devices, by key. */
export const DEVICES: Readonly<Record<string, DeviceSpec>> = Object.freeze({
  "h100-80gb": gpu("h100-80gb", "NVIDIA H100 SXM5 80GB (HBM3)", 81559, 3.35e12, 67 * T, 989 * T),
  "h200": gpu("h200", "NVIDIA H200 SXM 141GB (HBM3e)", 143771, 4.8e12, 67 * T, 989 * T),
  "a100-40gb": gpu("a100-40gb", "NVIDIA A100 SXM4 40GB", 40960, 1.555e12, 19.5 * T, 312 * T),
  "a100-80gb": gpu("a100-80gb", "NVIDIA A100 SXM4 80GB", 81920, 2.039e12, 19.5 * T, 312 * T),
  "l4": gpu("l4", "NVIDIA L4 24GB", 23034, 300e9, 30.3 * T, 121 * T),
  "rtx-4090": gpu("rtx-4090", "NVIDIA GeForce RTX 4090 24GB", 24564, 1.008e12, 82.6 * T, 165.2 * T),
  "rtx-3090": gpu("rtx-3090", "NVIDIA GeForce RTX 3090 24GB", 24576, 936e9, 35.6 * T, 71 * T),
  "m2-ultra-192gb": apple("m2-ultra-192gb", "Apple M2 Ultra, 76-core GPU, 192GB unified memory", 192, 800e9, 27.2 * T),
  "m3-ultra-256gb": apple("m3-ultra-256gb", "Apple M3 Ultra, 80-core GPU, 256GB unified memory", 256, 819e9, 28.4 * T),
  "m3-ultra-512gb": apple("m3-ultra-512gb", "Apple M3 Ultra, 80-core GPU, 512GB unified memory", 512, 819e9, 28.4 * T),
  "cpu-2s": Object.freeze({
    key: "cpu-2s",
    description: "2-socket x86 server: 2× 64-core AVX-512, 24 channels DDR5-4800, 768GiB",
    memoryBytes: 768 * GiB,
    reserveBytes: 16 * GiB,
    memoryBandwidth: 921.6e9,
    compute: Object.freeze({ f32: 10 * T, bf16: 20 * T, f16: 10 * T, int8: 40 * T, q8_0: 40 * T }),
    executionProvider: "cpu" as const,
  }),
  "cpu-local": Object.freeze({
    key: "cpu-local",
    description: "one process on this machine, one core (local clusters, tests)",
    memoryBytes: 2 * GiB,
    reserveBytes: 64 * MiB,
    memoryBandwidth: 10e9,
    compute: Object.freeze({ f32: 50e9, bf16: 50e9, f16: 50e9, int8: 50e9, q8_0: 50e9 }),
    executionProvider: "cpu" as const,
  }),
});

/** Other spellings accepted for catalogue keys. */
export const DEVICE_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  "h100": "h100-80gb",
  "h100-sxm": "h100-80gb",
  "h200-141gb": "h200",
  "a100": "a100-80gb",
  "4090": "rtx-4090",
  "3090": "rtx-3090",
  "m2-ultra": "m2-ultra-192gb",
  "m3-ultra": "m3-ultra-512gb",
  "cpu": "cpu-2s",
  "cpu-server": "cpu-2s",
});

/** The device of `key` (or one of its aliases), or undefined. */
export function lookupDevice(key: string): DeviceSpec | undefined {
  const k = key.toLowerCase();
  return DEVICES[k] ?? DEVICES[DEVICE_ALIASES[k] ?? ""];
}

/** Every key and alias, sorted, for error messages. */
export function deviceKeys(): string[] {
  return Object.keys(DEVICES).sort();
}
