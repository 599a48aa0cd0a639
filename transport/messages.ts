/**
 * Wire message kinds of the data plane, as data: one interface per kind,
 * tagged by `kind`, and a table (`KINDS`) that says which columns and header
 * fields each kind has. No logic lives here; `codec.ts` encodes and decodes
 * these, `validate.ts` checks them against the table.
 *
 * On the wire one message is one Arrow IPC stream (schema + one record batch)
 * in one ZeroMQ frame. The schema's custom metadata holds the header
 * (`kind`, `v`, `id`, ...), the record batch holds the columns. See DESIGN §3.
 */

/** Protocol version written in every header (`v`). Receivers reject others. */
export const PROTOCOL_VERSION = 1;

/** dtype of the `hidden` column on the wire; in memory hidden rows are always float32. */
export type WireDtype = "f32" | "f16";

/** Wire dtypes a receiver accepts unless told otherwise. */
export const WIRE_DTYPES: readonly WireDtype[] = ["f32", "f16"];

/** Header fields every kind may carry. All are optional when encoding. */
export interface Envelope {
  /** Request id, an integer in [0, 2^53). `RpcClient.request` assigns it; replies echo it. 0 = none. */
  id?: number;
  /** Micro-batch id of the scheduler, an unsigned 32-bit integer. */
  batch?: number;
  /** Absolute deadline, unix time in milliseconds; 0 or absent = none. */
  deadline?: number;
  /** Name of the sending process, e.g. `router-0` (≤ 128 characters, printable ASCII). */
  sender?: string;
  /** Small free-form control data: a JSON object, ≤ 4 KiB once encoded. */
  extra?: Record<string, unknown>;
}

/** Rows of hidden states with their bookkeeping columns. `rows` = `row.length`. */
export interface HiddenRows {
  /** Index of each row in the sender's batch, `[rows]` uint32. */
  row: Uint32Array;
  /** Sequence id of each row, `[rows]` uint32. */
  seq: Uint32Array;
  /** Position of each row in its sequence, `[rows]` uint32. */
  pos: Uint32Array;
  /**
   * Hidden states, `[rows, dModel]` row-major float32. After decoding an f32
   * frame this is a view of the received frame (no copy); after an f16 frame
   * it is one bulk conversion of `hiddenF16`.
   */
  hidden: Float32Array;
  /** Width of each hidden row (the model's d_model). */
  dModel: number;
  /** Wire dtype of `hidden`; `f32` when absent. */
  wireDtype?: WireDtype;
  /**
   * Raw half bits `[rows, dModel]` when the wire dtype is f16: a view of the
   * frame after decoding; when set for encoding it is sent as-is (no rounding).
   */
  hiddenF16?: Uint16Array;
}

/** Router → expert host: the rows routed to one (layer, expert). */
export interface MoeDispatch extends Envelope, HiddenRows {
  kind: "moe.dispatch";
  layer: number;
  expert: number;
}

/** Expert host → router: the expert FFN output for the rows of a dispatch (same row/seq/pos). */
export interface MoeResult extends Envelope, HiddenRows {
  kind: "moe.result";
  layer: number;
  expert: number;
}

/** Stage → router: the pre-MoE normed rows of one layer. */
export interface RouterRequest extends Envelope, HiddenRows {
  kind: "router.request";
  layer: number;
}

/** Router → stage: the combined MoE output rows of one layer. */
export interface RouterResponse extends Envelope, HiddenRows {
  kind: "router.response";
  layer: number;
}

/** Stage i → stage i+1: residual hidden rows of a micro-batch, with their tokens. */
export interface StageForward extends Envelope, HiddenRows {
  kind: "stage.forward";
  /** Token id at each row's position, `[rows]` uint32. */
  token: Uint32Array;
}

/** Last stage → gateway: one sampled token per sequence. */
export interface StageTokens extends Envelope {
  kind: "stage.tokens";
  /** `[rows]` uint32. */
  seq: Uint32Array;
  /** Sampled token id, `[rows]` uint32. */
  token: Uint32Array;
  /** Natural-log probability of the sampled token, `[rows]` float32, finite. */
  logprob: Float32Array;
}

/**
 * Last stage → gateway, when the request asked for logits (debugging,
 * `--logits-out`, cross-checks): the sampled tokens plus the logits of each
 * sequence's last new token; `hidden` is `[rows, vocab]` (dModel = vocab size).
 */
export interface StageLogits extends Envelope, HiddenRows {
  kind: "stage.logits";
  /** Sampled token id, `[rows]` uint32. */
  token: Uint32Array;
  /** Natural-log probability of the sampled token, `[rows]` float32. */
  logprob: Float32Array;
}

/** Gateway → stage 0: token ids to embed (prompt chunks or the last sampled token). */
export interface StageInput extends Envelope {
  kind: "stage.input";
  /** `[rows]` uint32. */
  seq: Uint32Array;
  /** `[rows]` uint32. */
  pos: Uint32Array;
  /** `[rows]` uint32. */
  token: Uint32Array;
}

/** Free the KV cache of these sequences. */
export interface SeqRelease extends Envelope {
  kind: "seq.release";
  /** `[rows]` uint32. */
  seq: Uint32Array;
}

/** A request failed on the remote side; `id` names the request. */
export interface ErrorMessage extends Envelope {
  kind: "error";
  /** Machine-readable code, e.g. `DEADLINE_EXCEEDED`, `EXPERT_NOT_LOADED`. */
  code: string;
  /** Human-readable explanation (≤ 1 KiB). */
  message: string;
  layer?: number;
  expert?: number;
  /** Host that raised it. */
  host?: string;
}

/** Liveness probe; answered with `pong`. */
export interface Ping extends Envelope {
  kind: "ping";
}

/** Answer to `ping`. */
export interface Pong extends Envelope {
  kind: "pong";
}

/** A process announces it has loaded its part and accepts work. */
export interface Ready extends Envelope {
  kind: "ready";
}

/** Every wire message. */
export type Message =
  | MoeDispatch
  | MoeResult
  | RouterRequest
  | RouterResponse
  | StageForward
  | StageTokens
  | StageLogits
  | StageInput
  | SeqRelease
  | ErrorMessage
  | Ping
  | Pong
  | Ready;

/** Every kind tag. */
export type Kind = Message["kind"];

/** The message type of one kind. */
export type MessageOf<K extends Kind> = Extract<Message, { kind: K }>;

/** Column names used by any kind. */
export type ColumnName = "row" | "seq" | "pos" | "token" | "hidden" | "logprob";

/** Arrow type of each column: `u32` = Uint32, `f32` = Float32, `hidden` = FixedSizeList<Float32|Float16>[d_model]. */
export const COLUMN_TYPES: Readonly<Record<ColumnName, "u32" | "f32" | "hidden">> = {
  row: "u32",
  seq: "u32",
  pos: "u32",
  token: "u32",
  hidden: "hidden",
  logprob: "f32",
};

/** Numeric header fields a kind may require. */
export type RoutingField = "layer" | "expert";

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

/** The columns and header fields of every kind, in schema order. */
export const KINDS: Readonly<Record<Kind, KindSpec>> = {
  "moe.dispatch": { columns: HIDDEN_COLUMNS, required: ["layer", "expert"], optional: [] },
  "moe.result": { columns: HIDDEN_COLUMNS, required: ["layer", "expert"], optional: [] },
  "router.request": { columns: HIDDEN_COLUMNS, required: ["layer"], optional: [] },
  "router.response": { columns: HIDDEN_COLUMNS, required: ["layer"], optional: [] },
  "stage.forward": { columns: ["row", "seq", "pos", "token", "hidden"], required: [], optional: [] },
  "stage.tokens": { columns: ["seq", "token", "logprob"], required: [], optional: [] },
  "stage.logits": { columns: ["row", "seq", "pos", "token", "logprob", "hidden"], required: [], optional: [] },
  "stage.input": { columns: ["seq", "pos", "token"], required: [], optional: [] },
  "seq.release": { columns: ["seq"], required: [], optional: [] },
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
  ping: "pong",
} as const satisfies Partial<Record<Kind, Kind>>;

/** The reply type of a request kind: its mapped kind, or any message for kinds without one. */
export type ReplyOf<K extends Kind> = K extends keyof typeof REPLY_KINDS ? MessageOf<(typeof REPLY_KINDS)[K]> : Message;

/** Header keys (schema custom metadata) of protocol v1. */
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
  "extra",
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
  /** Longest `extra` JSON, UTF-8 bytes. */
  extra: 4096,
  /** Largest `d_model`. */
  dModel: 1 << 20,
} as const;
