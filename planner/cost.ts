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
 *
 * Here: the model's figures, the bytes a host holds, a stage's and an expert's time. The knobs are in
 * cost-options.ts, the messages' costs in message-cost.ts, touch probabilities and the expected
 * expert phase of a layer in sparsity.ts.
 */
import { accountModel, attentionFlopsPerToken, expertFlopsPerToken, type ModelAccount, type ModelConfig } from "../model/index.js";
import type { WeightDType } from "./catalogue.js";
import type { HostSpec } from "./cluster.js";
import { DEFAULT_COST_OPTIONS, type CostOptions, type Workload } from "./cost-options.js";
import { pipelineSoftware } from "./message-cost.js";

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
