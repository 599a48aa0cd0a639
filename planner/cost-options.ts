/**
 * The cost model's knobs ({@link CostOptions}: efficiencies, software costs, what calibration fits, with
 * their defaults) and the workload it is costed for. cost.ts uses them; plan.json records them.
 */

/** Knobs of the cost model; defaults in {@link DEFAULT_COST_OPTIONS}. */
export interface CostOptions {
  /** Fraction of peak memory bandwidth a decode kernel achieves (0–1]. */
  readonly bandwidthEfficiency: number;
  /** Fraction of peak FLOP/s a prefill matmul achieves (0–1]. */
  readonly computeEfficiency: number;
  /** Fraction of each host's memory kept free (allocator fragmentation, spikes), like vLLM's 0.9 utilisation. */
  readonly headroomFraction: number;
  /** Prompt tokens processed per prefill chunk (sizes activations too). */
  readonly prefillChunk: number;
  /** KV-cache bytes per element (2 = f16/bf16, 4 = f32). */
  readonly kvBytesPerElement: number;
  /** Hidden-state bytes per element on the wire (4 = f32, 2 = f16). */
  readonly wireBytesPerElement: number;
  /** Fixed bytes per message (Arrow schema + header). */
  readonly messageOverheadBytes: number;
  /**
   * Multiplier on the weight-read and FLOP time of stages (attention, KV cache, unembedding):
   * 1 = the catalogue's peak × the efficiencies. Calibration sets it from the single process's decode rate.
   */
  readonly computeScale: number;
  /** Fixed time of one stage layer in one step (its attention session run and the glue around it), and of the head's run, seconds. */
  readonly stageLayerSeconds: number;
  /** Multiplier on the weight-read and FLOP time of experts; calibration sets it from the in-process MoE time. */
  readonly expertComputeScale: number;
  /** Fixed time of one expert's onnxruntime session run (JS ↔ native, kernel launches), seconds. */
  readonly sessionSeconds: number;
  /** Software time of one message between two processes, both ends together (encode, send, wake-up, receive, decode), seconds. */
  readonly messageSeconds: number;
  /** Software time per message byte (copies, encode, decode), seconds per byte. */
  readonly messageSecondsPerByte: number;
  /**
   * Software time of one pipeline message (gateway → first stage, stage → stage, last stage → gateway),
   * both ends together, seconds: more than a dispatch, as a stage host does a step's bookkeeping around it.
   */
  readonly pipelineMessageSeconds: number;
  /** Dispatch messages per layer: one per expert host (`host`, the router since protocol v2) or one per touched expert (`expert`). */
  readonly dispatchPer: "expert" | "host";
  /**
   * CPU cores of one machine, shared by the hosts (processes) with the same `address`; 0 = not modelled
   * (each host has cores of its own). With more busy processes than cores a step waits for CPU.
   */
  readonly machineCores: number;
}

/**
 * Defaults: 80% of peak bandwidth, 50% of peak FLOP/s, 10% memory headroom, f16 KV, f32 wire;
 * 20 µs per session run (an expert's, a stage layer's); 50 µs + 0.5 ns/byte of software per message (Node.js on a server CPU:
 * Arrow encode + decode ≈ 2 × 15 µs for one row, ZeroMQ send and wake-up ≈ 20 µs), 100 µs per
 * pipeline message; one dispatch per expert host and layer; hosts do not share cores.
 */
export const DEFAULT_COST_OPTIONS: CostOptions = Object.freeze({
  bandwidthEfficiency: 0.8,
  computeEfficiency: 0.5,
  headroomFraction: 0.1,
  prefillChunk: 512,
  kvBytesPerElement: 2,
  wireBytesPerElement: 4,
  messageOverheadBytes: 1024,
  computeScale: 1,
  stageLayerSeconds: 20e-6,
  expertComputeScale: 1,
  sessionSeconds: 20e-6,
  messageSeconds: 50e-6,
  messageSecondsPerByte: 0.5e-9,
  pipelineMessageSeconds: 100e-6,
  dispatchPer: "host" as const,
  machineCores: 0,
});

/** What the user wants to run. */
export interface Workload {
  /** Tokens per sequence the KV cache is sized for; decode is costed at this length. */
  readonly context: number;
  /** Sequences decoding at the same time. */
  readonly concurrency: number;
  /** Prompt length for time to first token, tokens. */
  readonly promptTokens: number;
}
