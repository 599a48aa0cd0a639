/**
 * The Grok-1 model family as a validated configuration.
 *
 * Every preset is a point in the family of SPEC.md; any other shape comes from
 * a `config.json` or from GGUF metadata. Code must read sizes from here and
 * never assume the tiny preset.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ModelConfigError } from "./errors.js";
import { GROK_DEFAULTS, PRESETS } from "./presets.js";

export { GROK_DEFAULTS, PRESETS, ffnSize } from "./presets.js";

/** Hyper-parameters of one Grok-family model. Sizes are element counts. */
export interface ModelConfig {
  /** Human-readable name (preset name, `general.name`, ...). */
  readonly name: string;
  /** Number of tokens in the vocabulary (rows of `token_embd`). */
  readonly vocabSize: number;
  /** Residual width D. */
  readonly dModel: number;
  /** Number of decoder layers. */
  readonly nLayers: number;
  /** Query heads. */
  readonly nHeads: number;
  /** Key/value heads (GQA); divides nHeads. */
  readonly nKvHeads: number;
  /** Head size (key and value), even. */
  readonly headDim: number;
  /** Experts per layer. */
  readonly nExperts: number;
  /** Experts selected per token (top-k). */
  readonly nExpertsUsed: number;
  /** Expert FFN hidden width. */
  readonly ffnDim: number;
  /** Maximum context (tokens per sequence). */
  readonly contextLength: number;
  /** RMSNorm epsilon. */
  readonly rmsEps: number;
  /** RoPE base (NEOX half-split over the whole head). */
  readonly ropeBase: number;
  /** Embedding multiplier (default 78.38367176906169). */
  readonly embeddingScale: number;
  /** Output logits multiplier (default 0.5773502691896257). */
  readonly logitScale: number;
  /** Attention score multiplier (default 0.08838834764831845, NOT 1/sqrt(headDim)). */
  readonly attnScale: number;
  /** Attention soft-cap c in c·tanh(x/c) (default 30; 0 disables). */
  readonly attnSoftcap: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  /** Whether text tokenisation prepends BOS. */
  readonly addBos: boolean;
  /** True when the unembedding is `token_embd` (no `output.weight`). */
  readonly tiedEmbeddings: boolean;
}

const int = (min: number) => z.number().int().min(min);

/** zod schema of {@link ModelConfig}; messages name the field. */
export const modelConfigSchema = z
  .object({
    name: z.string().min(1),
    vocabSize: int(1),
    dModel: int(1),
    nLayers: int(1),
    nHeads: int(1),
    nKvHeads: int(1),
    headDim: int(2),
    nExperts: int(1),
    nExpertsUsed: int(1),
    ffnDim: int(1),
    contextLength: int(1),
    rmsEps: z.number().positive(),
    ropeBase: z.number().positive(),
    embeddingScale: z.number().finite(),
    logitScale: z.number().finite(),
    attnScale: z.number().finite(),
    attnSoftcap: z.number().min(0),
    bosId: int(0),
    eosId: int(0),
    padId: int(0),
    unkId: int(0),
    addBos: z.boolean(),
    tiedEmbeddings: z.boolean(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.nHeads % c.nKvHeads !== 0)
      ctx.addIssue({ code: "custom", path: ["nKvHeads"], message: `nHeads (${c.nHeads}) must be a multiple of nKvHeads (${c.nKvHeads})` });
    if (c.headDim % 2 !== 0) ctx.addIssue({ code: "custom", path: ["headDim"], message: "headDim must be even (RoPE half-split)" });
    if (c.nExpertsUsed > c.nExperts)
      ctx.addIssue({ code: "custom", path: ["nExpertsUsed"], message: `nExpertsUsed (${c.nExpertsUsed}) exceeds nExperts (${c.nExperts})` });
    for (const k of ["bosId", "eosId", "padId", "unkId"] as const)
      if (c[k] >= c.vocabSize) ctx.addIssue({ code: "custom", path: [k], message: `${k} ${c[k]} is outside the vocabulary (${c.vocabSize})` });
  });

/** Validate a plain object as a {@link ModelConfig}; `source` names the file for errors. */
export function parseModelConfig(raw: unknown, source: string): ModelConfig {
  const r = modelConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join(".") || "(root)";
    throw new ModelConfigError(`${source}: field '${field}': ${issue.message}`, { file: source, field });
  }
  return Object.freeze({ ...r.data });
}

/** Look up a preset by name, with a helpful error listing the known ones. */
export function presetConfig(name: string): ModelConfig {
  const p = PRESETS[name];
  if (!p) throw new ModelConfigError(`unknown model preset '${name}'; known presets: ${Object.keys(PRESETS).join(", ")}`, { field: "preset" });
  return p;
}

/**
 * Read a `config.json`. Accepts the project's own camelCase form (what
 * `moe model init` writes) and the snake_case form of the public reference
 * (`n_embd`, `n_layer`, ...); missing constants take SPEC.md defaults.
 */
export function loadConfigJson(file: string): ModelConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ModelConfigError(`${file}: cannot read config.json: ${(e as Error).message}`, { file, cause: e });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ModelConfigError(`${file}: config.json must be a JSON object`, { file });
  if ("dModel" in raw) return parseModelConfig(raw, file);
  return parseModelConfig(fromSnakeCase(raw), file);
}

function fromSnakeCase(r: Record<string, unknown>): Record<string, unknown> {
  const num = (k: string, d?: number) => (r[k] === undefined ? d : r[k]);
  const nEmbd = r.n_embd as number;
  const nHead = r.n_head as number;
  return {
    name: (r.name as string) ?? "model",
    vocabSize: num("n_vocab"),
    dModel: nEmbd,
    nLayers: num("n_layer"),
    nHeads: nHead,
    nKvHeads: num("n_head_kv", nHead),
    headDim: num("head_dim", typeof nEmbd === "number" && typeof nHead === "number" ? nEmbd / nHead : undefined),
    nExperts: num("n_expert"),
    nExpertsUsed: num("n_expert_used"),
    ffnDim: num("n_ff"),
    contextLength: num("context_length", 8192),
    rmsEps: num("rms_norm_eps", GROK_DEFAULTS.rmsEps),
    ropeBase: num("rope_freq_base", GROK_DEFAULTS.ropeBase),
    embeddingScale: num("embedding_multiplier_scale", GROK_DEFAULTS.embeddingScale),
    logitScale: num("output_multiplier_scale", GROK_DEFAULTS.logitScale),
    attnScale: num("attn_output_multiplier", GROK_DEFAULTS.attnScale),
    attnSoftcap: num("attn_logit_softcap", GROK_DEFAULTS.attnSoftcap),
    bosId: num("bos_token_id", 1),
    eosId: num("eos_token_id", 2),
    padId: num("pad_token_id", 0),
    unkId: num("unk_token_id", 3),
    addBos: (r.add_bos_token as boolean) ?? false,
    tiedEmbeddings: (r.tied_embeddings as boolean) ?? true,
  };
}
