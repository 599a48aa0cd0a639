/**
 * The table of the wire kinds (messages.ts): the Arrow type of every column, which columns and header
 * fields each kind has (`KINDS`), which kind answers which, and the header keys with their limits. Data
 * only; `codec.ts` encodes by it, `validate.ts` checks against it.
 */
import type { Kind, Message, MessageOf, SamplingColumns } from "./messages.js";
/** Arrow type of a column: `u32` = Uint32, `f32` = Float32, `f64` = Float64, `hidden` = FixedSizeList<Float32|Float16>[d_model]. */
export type ColumnType = "u32" | "f32" | "f64" | "hidden";

/** Arrow type of each column name used by any kind. */
export const COLUMN_TYPES = {
  row: "u32",
  seq: "u32",
  pos: "u32",
  token: "u32",
  expert: "u32",
  rank: "u32",
  hidden: "hidden",
  logprob: "f32",
  bias: "f32",
  flags: "u32",
  temperature: "f32",
  top_p: "f32",
  top_k: "u32",
  min_p: "f32",
  presence_penalty: "f32",
  frequency_penalty: "f32",
  repetition_penalty: "f32",
  seed: "u32",
  top_logprobs: "u32",
  metric: "u32",
  a: "u32",
  b: "u32",
  value: "f64",
} as const satisfies Record<string, ColumnType>;

/** Column names used by any kind. */
export type ColumnName = keyof typeof COLUMN_TYPES;

/** The sampling columns of `stage.input` / `stage.forward`, in schema order. */
export const SAMPLING_COLUMNS = [
  "flags",
  "temperature",
  "top_p",
  "top_k",
  "min_p",
  "presence_penalty",
  "frequency_penalty",
  "repetition_penalty",
  "seed",
  "top_logprobs",
] as const satisfies readonly (keyof SamplingColumns & ColumnName)[];

/** Numeric header fields a kind may require. */
export type RoutingField = "layer";

/** What one kind carries. */
export interface KindSpec {
  /** Columns in schema order; empty = a control message with no rows. */
  readonly columns: readonly ColumnName[];
  /** Header fields that must be present. */
  readonly required: readonly RoutingField[];
  /** Extra header fields that may be present (beyond the envelope). */
  readonly optional: readonly ("layer" | "expert" | "code" | "message" | "host")[];
}

const HIDDEN_COLUMNS = ["row", "seq", "pos", "hidden"] as const;
const EXPERT_COLUMNS = ["row", "seq", "pos", "expert", "hidden"] as const;

/** The columns and header fields of every kind, in schema order. */
export const KINDS: Readonly<Record<Kind, KindSpec>> = {
  "moe.dispatch": { columns: EXPERT_COLUMNS, required: ["layer"], optional: [] },
  "moe.result": { columns: EXPERT_COLUMNS, required: ["layer"], optional: [] },
  "router.request": { columns: HIDDEN_COLUMNS, required: ["layer"], optional: [] },
  "router.response": { columns: HIDDEN_COLUMNS, required: ["layer"], optional: [] },
  "stage.forward": { columns: ["row", "seq", "pos", "token", ...SAMPLING_COLUMNS, "hidden"], required: [], optional: [] },
  "stage.tokens": { columns: ["seq", "rank", "token", "logprob"], required: [], optional: [] },
  "stage.logits": { columns: HIDDEN_COLUMNS, required: [], optional: [] },
  "stage.input": { columns: ["seq", "pos", "token", ...SAMPLING_COLUMNS], required: [], optional: [] },
  "seq.bias": { columns: ["seq", "token", "bias"], required: [], optional: [] },
  "seq.release": { columns: ["seq"], required: [], optional: [] },
  "status.request": { columns: [], required: [], optional: [] },
  status: { columns: ["metric", "a", "b", "value"], required: [], optional: [] },
  error: { columns: [], required: [], optional: ["layer", "expert", "code", "message", "host"] },
  ping: { columns: [], required: [], optional: [] },
  pong: { columns: [], required: [], optional: [] },
  ready: { columns: [], required: [], optional: [] },
};

/** All kinds, in `KINDS` order. */
export const ALL_KINDS: readonly Kind[] = Object.keys(KINDS) as Kind[];

/** For request kinds with a defined answer: the kind of a successful reply (`error` is always possible). */
export const REPLY_KINDS = {
  "moe.dispatch": "moe.result",
  "router.request": "router.response",
  "status.request": "status",
  ping: "pong",
} as const satisfies Partial<Record<Kind, Kind>>;

/** The reply type of a request kind: its mapped kind, or any message for kinds without one. */
export type ReplyOf<K extends Kind> = K extends keyof typeof REPLY_KINDS ? MessageOf<(typeof REPLY_KINDS)[K]> : Message;

/** Header keys (schema custom metadata) of protocol v2. */
export const HEADER_KEYS = [
  "kind",
  "v",
  "id",
  "batch",
  "layer",
  "expert",
  "deadline",
  "dtype",
  "d_model",
  "sender",
  "origin",
  "code",
  "message",
  "host",
] as const;

/** Limits on header values (bytes or characters). */
export const HEADER_LIMITS = {
  /** Longest `sender` or `host`, characters. */
  name: 128,
  /** Longest `code`, characters. */
  code: 64,
  /** Longest error `message`, characters. */
  message: 1024,
  /** Largest `d_model`. */
  dModel: 1 << 20,
} as const;
