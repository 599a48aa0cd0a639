/**
 * The values of a generated model: per tensor, uniform draws scaled to a target standard deviation
 * (or norm gains with a small jitter) from an integer PRNG seeded by (seed, tensor name), each value
 * rounded by Math.fround. Produced in chunks, so a tensor of any size streams to disk.
 */
import { ModelConfigError, paramCount, type ModelConfig, type TensorSpec } from "../model/index.js";
import { fnv1a, Xoshiro128 } from "./random.js";

/**
 * Scales of the random initialisation, chosen so that with the fixed Grok
 * multipliers the residual stream stays O(1), logits have a std of a few
 * units, routing varies between tokens and attention has some sharp heads.
 * See the measured statistics in test/weights/generate.test.ts.
 */
export const TINY_INIT = Object.freeze({
  /** RMS of token_embd rows × embeddingScale (the residual stream at the input). */
  embeddingRms: 0.5,
  /** Target std of the logits (sets the output_norm gain). */
  logitStd: 5,
  /** Gain of the post-attention and post-MoE norms (each adds about this RMS to the residual). */
  postNormGain: 1.5,
  /** Relative jitter of every norm gain (uniform, ± this fraction). */
  gainJitter: 0.1,
  /** Target std of the scaled attention scores q·k·attnScale (before the soft-cap). */
  attnScoreStd: 1.2,
  /** Head 0 of every layer: its query rows are scaled by this (sharper attention). */
  sharpHeadFactor: 2.5,
  /** Target std of the router logits. */
  routerLogitStd: 2.5,
  /** Std of the expert down projection output relative to a unit-variance init. */
  downScale: 0.5,
});

const SQRT3 = Math.sqrt(3);

/** How one tensor's values are drawn. */
type InitRule =
  | { readonly kind: "uniform"; readonly std: number; /** The first `sharp` values are scaled by `factor`. */ readonly sharp: number; readonly factor: number }
  | { readonly kind: "gains"; readonly gain: number };

/** The initialisation rule of a tensor by its canonical name. */
function initRule(cfg: ModelConfig, spec: TensorSpec): InitRule {
  const D = cfg.dModel;
  const I = TINY_INIT;
  const uniform = (std: number, sharp = 0, factor = 1): InitRule => ({ kind: "uniform", std, sharp, factor });
  const gains = (gain: number): InitRule => ({ kind: "gains", gain });
  const base = spec.name.replace(/^blk\.\d+\./, "");
  const embStd = I.embeddingRms / cfg.embeddingScale;
  switch (base) {
    case "token_embd.weight":
    case "output.weight":
      return uniform(embStd);
    case "output_norm.weight":
      // logits = logitScale · E·(rms(h)⊙g): std ≈ logitScale · g · embStd · √D
      return gains(I.logitStd / (cfg.logitScale * embStd * Math.sqrt(D)));
    case "attn_output_norm.weight":
    case "layer_output_norm.weight":
      return gains(I.postNormGain);
    case "attn_norm.weight":
    case "ffn_norm.weight":
      return gains(1);
    case "attn_q.weight":
    case "attn_k.weight": {
      // score std = attnScale · s_q · s_k · √headDim with s = σ·√D per projected value
      const s = Math.sqrt(I.attnScoreStd / (Math.abs(cfg.attnScale) * Math.sqrt(cfg.headDim)));
      return base === "attn_q.weight" ? uniform(s / Math.sqrt(D), cfg.headDim * D, I.sharpHeadFactor) : uniform(s / Math.sqrt(D));
    }
    case "attn_v.weight":
    case "ffn_gate_exps.weight":
    case "ffn_up_exps.weight":
      return uniform(1 / Math.sqrt(D));
    case "attn_output.weight":
      return uniform(1 / Math.sqrt(cfg.nHeads * cfg.headDim));
    case "ffn_gate_inp.weight":
      return uniform(I.routerLogitStd / Math.sqrt(D));
    case "ffn_down_exps.weight":
      return uniform(I.downScale / Math.sqrt(cfg.ffnDim));
    default:
      throw new ModelConfigError(`generator: no initialisation rule for tensor '${spec.name}'`, { tensor: spec.name });
  }
}

/** Default chunk of {@link tensorValueChunks}: about 4 MiB of f32. */
export const VALUE_CHUNK = 1 << 20;

/**
 * The f32 values of one tensor of a generated model (row-major) in order, at most `maxChunk` values
 * (rounded down to whole rows) at a time — the same numbers as {@link generateTensorValues}, without
 * the whole tensor in memory. Each chunk is a view of one reused buffer: consume it before the next.
 */
export function* tensorValueChunks(cfg: ModelConfig, seed: number, spec: TensorSpec, maxChunk = VALUE_CHUNK): Generator<Float32Array> {
  const rng = new Xoshiro128(seed >>> 0, fnv1a(spec.name));
  const rule = initRule(cfg, spec);
  const n = paramCount(spec);
  const row = spec.shape[spec.shape.length - 1]!;
  const chunk = Math.min(n, Math.max(row, Math.floor(maxChunk / row) * row));
  const buf = new Float32Array(chunk);
  const jitter = TINY_INIT.gainJitter;
  for (let at = 0; at < n; at += chunk) {
    const len = Math.min(chunk, n - at);
    if (rule.kind === "gains") for (let i = 0; i < len; i++) buf[i] = Math.fround(rule.gain * (1 + jitter * rng.uniform()));
    else {
      const a = rule.std * SQRT3;
      for (let i = 0; i < len; i++) buf[i] = Math.fround(rng.uniform() * a);
      for (let i = 0; i < len && at + i < rule.sharp; i++) buf[i] = Math.fround(buf[i]! * rule.factor);
    }
    yield buf.subarray(0, len);
  }
}

/**
 * The f32 values of one tensor of a generated model (row-major), a pure
 * function of (config, seed, tensor name): every dtype and format of the same
 * seed starts from these.
 */
export function generateTensorValues(cfg: ModelConfig, seed: number, spec: TensorSpec): Float32Array {
  const out = new Float32Array(paramCount(spec));
  let at = 0;
  for (const c of tensorValueChunks(cfg, seed, spec)) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
