/**
 * Cost model: bytes each host must hold and seconds each piece of work takes.
 *
 * Decode is costed per token step: a stage reads its layers' attention
 * weights and its sequences' KV cache (bytes ÷ effective bandwidth, or FLOPs ÷
 * effective FLOP/s if that is larger), the last stage also reads the
 * unembedding; every layer then waits for the slowest expert host that
 * received rows, including two messages (dispatch, combine) of
 * payload ÷ bandwidth + latency each. Expert sparsity is explicit: at batch B
 * expert e (routing probability p_e) is touched with probability
 * 1 − (1 − p_e)^B, and only touched experts cost weight reads.
 *
 * Software costs are explicit too: every onnxruntime session run costs a
 * fixed `sessionSeconds`, and every message between two processes costs
 * `messageSeconds + bytes × messageSecondsPerByte` of CPU (encode, send,
 * wake-up, receive, decode) on top of the wire's latency and bandwidth.
 * `moe plan --calibrate` fits these to a `moe bench cluster` run.
 */
import { accountModel, attentionFlopsPerToken, expertFlopsPerToken, type ModelAccount, type ModelConfig } from "../model/index.js";
import type { WeightDType } from "./catalogue.js";
import type { HostSpec } from "./cluster.js";

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

/** Per-model figures the planner needs, derived once from the config and dtype. */
export interface ModelCosts {
  readonly cfg: ModelConfig;
  readonly dtype: WeightDType;
  readonly account: ModelAccount;
  /** Attention + router + norms of one layer, bytes (what a stage holds per layer). */
  readonly layerStageBytes: number;
  /** One expert of one layer (gate, up, down), bytes. */
  readonly expertBytes: number;
  /** `token_embd`, bytes (first stage). */
  readonly embeddingBytes: number;
  /** Unembedding (tied embedding or `output.weight`) + final norm, bytes (last stage holds and reads it). */
  readonly headBytes: number;
  /** Final norm alone, bytes. */
  readonly finalNormBytes: number;
  /** KV cache per token per layer, bytes: 2 × kv_heads × head_dim × kvBytesPerElement. */
  readonly kvBytesPerTokenLayer: number;
  /** FLOPs per token through one expert. */
  readonly expertFlops: number;
  /** FLOPs per token of one layer's router. */
  readonly routerFlops: number;
  /** FLOPs per token of the unembedding. */
  readonly headFlops: number;
  /** Activation workspace of a stage host, bytes (a prefill chunk through attention, f32). */
  readonly stageActivationBytes: number;
  /** Activation workspace of an expert host, bytes (a prefill chunk through one expert, f32). */
  readonly expertActivationBytes: number;
  /** One hidden-state row on the wire, bytes. */
  readonly rowBytes: number;
}

/** Derive {@link ModelCosts}. */
export function modelCosts(cfg: ModelConfig, dtype: WeightDType, workload: Workload, opts: CostOptions = DEFAULT_COST_OPTIONS): ModelCosts {
  const account = accountModel(cfg, dtype);
  const l0 = account.layers[0]!;
  const D = cfg.dModel;
  const qDim = cfg.nHeads * cfg.headDim;
  const kvDim = cfg.nKvHeads * cfg.headDim;
  const chunk = Math.min(opts.prefillChunk, workload.context);
  const unembed = cfg.tiedEmbeddings ? account.embeddingBytes : account.outputBytes;
  return Object.freeze({
    cfg,
    dtype,
    account,
    layerStageBytes: l0.attentionBytes + l0.routerBytes + l0.normBytes,
    expertBytes: l0.expertBytes,
    embeddingBytes: account.embeddingBytes,
    headBytes: unembed + account.finalNormBytes,
    finalNormBytes: account.finalNormBytes,
    kvBytesPerTokenLayer: 2 * cfg.nKvHeads * cfg.headDim * opts.kvBytesPerElement,
    expertFlops: expertFlopsPerToken(cfg),
    routerFlops: 2 * cfg.nExperts * D,
    headFlops: 2 * cfg.vocabSize * D,
    stageActivationBytes: 4 * chunk * (6 * D + 2 * qDim + 2 * kvDim + cfg.nHeads * workload.context) + 4 * cfg.vocabSize * Math.max(1, workload.concurrency),
    expertActivationBytes: 4 * chunk * (D + 2 * cfg.ffnDim),
    rowBytes: D * opts.wireBytesPerElement,
  });
}

/** Bytes of a host available for weights, KV and activations: capacity − runtime reserve − headroom. */
export function usableBytes(h: HostSpec, opts: CostOptions = DEFAULT_COST_OPTIONS): number {
  return h.memoryBytes - reserveBytes(h, opts);
}

/** Runtime reserve + headroom of a host, whole bytes. */
export function reserveBytes(h: HostSpec, opts: CostOptions = DEFAULT_COST_OPTIONS): number {
  return Math.ceil(h.reserveBytes + opts.headroomFraction * h.memoryBytes);
}

/** Position of a stage in the pipeline: it decides who holds the embedding and the head. */
export interface StageRole {
  readonly first: boolean;
  readonly last: boolean;
}

/** Weight bytes a stage of `n` layers holds (embedding on the first, head on the last; once if both and tied). */
export function stageWeightBytes(mc: ModelCosts, n: number, role: StageRole): number {
  let b = n * mc.layerStageBytes;
  if (role.first) b += mc.embeddingBytes;
  if (role.last) b += role.first && mc.cfg.tiedEmbeddings ? mc.finalNormBytes : mc.headBytes;
  return b;
}

/** KV bytes a stage of `n` layers reserves for `tokens` cached tokens (all sequences together). */
export function stageKvBytes(mc: ModelCosts, n: number, tokens: number): number {
  return n * tokens * mc.kvBytesPerTokenLayer;
}

/** Time split of one piece of work, seconds. */
export interface WorkTime {
  /** Busy time: max(memory, compute) + session runs. */
  readonly busy: number;
  /** Weight and KV reads (× computeScale), seconds. */
  readonly memory: number;
  /** FLOPs (× computeScale). */
  readonly compute: number;
  /** Fixed cost of the layers' and the head's runs (stageLayerSeconds each), seconds. */
  readonly sessions: number;
  /** Wire time of the hop following the work (latency + bytes ÷ bandwidth), seconds. */
  readonly network: number;
  /** Software time of that hop's message ({@link pipelineSoftware}), seconds. */
  readonly software: number;
}

/** Software time of one dispatch or result of `bytes` between two processes, both ends together, seconds. */
export function messageSoftware(bytes: number, opts: CostOptions = DEFAULT_COST_OPTIONS): number {
  return opts.messageSeconds + bytes * opts.messageSecondsPerByte;
}

/**
 * Pipeline messages of one decode step through `stages` stages (protocol v2): the client's one-way
 * `stage.input` to stage 0, one `stage.forward` per stage hop, and the last stage's `stage.tokens`
 * straight back to the client — `stages + 1`, all on the step's critical path.
 */
export function pipelineMessages(stages: number): number {
  return stages + 1;
}

/** Software time of one pipeline message of `bytes` (step in, stage hop, tokens out), both ends together, seconds. */
export function pipelineSoftware(bytes: number, opts: CostOptions = DEFAULT_COST_OPTIONS): number {
  return opts.pipelineMessageSeconds + bytes * opts.messageSecondsPerByte;
}

/** What a stage computes in one pass. */
export interface StageWork {
  /** Rows through the layers (decode: the micro-batch's sequences; prefill: the chunk's tokens). */
  readonly tokens: number;
  /** Keys each row attends to (sets attention FLOPs). */
  readonly ctx: number;
  /** KV-cache tokens read per layer in this pass (decode: tokens × ctx; prefill chunk: ctx). */
  readonly kvTokensRead: number;
  /** Rows through the unembedding on the last stage (decode: tokens; prefill: 1 on the last chunk, else 0). */
  readonly headTokens: number;
}

/**
 * One stage's work for a pass ({@link StageWork}) plus its hop to the next stage
 * (the last stage's hop returns token ids: latency only).
 */
export function stageTime(mc: ModelCosts, h: HostSpec, n: number, role: StageRole, work: StageWork, opts: CostOptions = DEFAULT_COST_OPTIONS): WorkTime {
  let bytes = n * mc.layerStageBytes + n * work.kvTokensRead * mc.kvBytesPerTokenLayer;
  let flops = work.tokens * n * (attentionFlopsPerToken(mc.cfg, work.ctx) + mc.routerFlops);
  if (role.last && work.headTokens > 0) {
    bytes += mc.headBytes;
    flops += work.headTokens * mc.headFlops;
  }
  const memory = (opts.computeScale * bytes) / (h.memoryBandwidth * opts.bandwidthEfficiency);
  const compute = (opts.computeScale * flops) / (h.compute[mc.dtype] * opts.computeEfficiency);
  // one attention run per layer, one head run
  const sessions = (n + (role.last && work.headTokens > 0 ? 1 : 0)) * opts.stageLayerSeconds;
  const hopBytes = role.last ? 0 : work.tokens * mc.rowBytes + opts.messageOverheadBytes;
  const network = role.last ? h.network.latency : hopBytes / h.network.bandwidth + h.network.latency;
  return { busy: Math.max(memory, compute) + sessions, memory, compute, sessions, network, software: pipelineSoftware(hopBytes, opts) };
}

/** Decode work of a micro-batch of `b` sequences at KV length `ctx`. */
export function decodeWork(b: number, ctx: number): StageWork {
  return { tokens: b, ctx, kvTokensRead: b * ctx, headTokens: b };
}

/** Seconds for one expert replica on `h` that is touched and receives `rows` rows on average (one session run). */
export function expertTouchTime(mc: ModelCosts, h: HostSpec, rows: number, opts: CostOptions = DEFAULT_COST_OPTIONS): { busy: number; memory: number; compute: number } {
  const memory = (opts.expertComputeScale * mc.expertBytes) / (h.memoryBandwidth * opts.bandwidthEfficiency);
  const compute = (opts.expertComputeScale * rows * mc.expertFlops) / (h.compute[mc.dtype] * opts.computeEfficiency);
  return { busy: Math.max(memory, compute) + opts.sessionSeconds, memory, compute };
}

/** One-way message time between two hosts for `bytes` of payload (0 when co-located). */
export function messageTime(a: HostSpec, b: HostSpec, bytes: number): number {
  if (a === b) return 0;
  return bytes / Math.min(a.network.bandwidth, b.network.bandwidth) + Math.max(a.network.latency, b.network.latency);
}

/** Probability that a replica with routing share `p` (fraction of tokens) is touched by a batch of `b` tokens. */
export function touchProbability(p: number, b: number): number {
  return 1 - Math.pow(1 - Math.min(1, Math.max(0, p)), b);
}

/** Expected number of distinct experts (of a layer) touched by a batch of `b` tokens, given routing shares. */
export function expectedDistinctExperts(shares: readonly number[], b: number): number {
  return shares.reduce((a, p) => a + touchProbability(p, b), 0);
}

/** One expert host's work in one layer: replicas it holds with their token shares. */
export interface HostLayerWork {
  /** Touch probability and busy seconds-if-touched per replica. */
  readonly replicas: readonly { readonly touch: number; readonly busy: number; readonly memory: number; readonly compute: number }[];
  /** Dispatch + combine time when any replica is touched, seconds (0 when co-located with the stage). */
  readonly network: number;
}

/** Expected busy seconds (weights + compute) of one host in one layer, network excluded. */
export function expectedBusy(w: HostLayerWork): number {
  return w.replicas.reduce((a, r) => a + r.touch * r.busy, 0);
}

/**
 * Expected time of a layer's expert phase: E[max over hosts of T_h], where
 * T_h = 0 if none of its replicas is touched, else network + X_h · τ̄_h
 * (X_h touched replicas, Poisson-binomial; τ̄_h their mean busy time).
 * Hosts are independent. Exact under those assumptions; `withNetwork` false
 * drops the messages (to split the breakdown).
 */
export function expectedLayerTime(works: readonly HostLayerWork[], withNetwork = true): number {
  const dists: { values: number[]; cdf: number[] }[] = [];
  for (const w of works) {
    const n = w.replicas.length;
    if (n === 0) continue;
    let pmf = [1];
    let touchSum = 0;
    let weighted = 0;
    for (const r of w.replicas) {
      const next = new Array<number>(pmf.length + 1).fill(0);
      for (let x = 0; x < pmf.length; x++) {
        next[x]! += pmf[x]! * (1 - r.touch);
        next[x + 1]! += pmf[x]! * r.touch;
      }
      pmf = next;
      touchSum += r.touch;
      weighted += r.touch * r.busy;
    }
    const mean = touchSum > 0 ? weighted / touchSum : 0;
    const net = withNetwork ? w.network : 0;
    const values: number[] = [];
    const cdf: number[] = [];
    let acc = 0;
    for (let x = 0; x <= n; x++) {
      acc += pmf[x]!;
      values.push(x === 0 ? 0 : net + x * mean);
      cdf.push(Math.min(1, acc));
    }
    dists.push({ values, cdf });
  }
  if (dists.length === 0) return 0;
  const points = [...new Set(dists.flatMap((d) => d.values))].sort((a, b) => a - b);
  const cdfAt = (d: { values: number[]; cdf: number[] }, t: number) => {
    let c = 0;
    for (let i = 0; i < d.values.length && d.values[i]! <= t; i++) c = d.cdf[i]!;
    return c;
  };
  let expected = 0;
  for (let i = 0; i + 1 < points.length; i++) {
    const t = points[i]!;
    let f = 1;
    for (const d of dists) f *= cdfAt(d, t);
    expected += (points[i + 1]! - t) * (1 - f);
  }
  return expected;
}
