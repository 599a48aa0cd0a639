/**
 * Wire message kinds of the data plane, as data: one interface per kind,
 * tagged by `kind`; kinds.ts holds the table (`KINDS`) that says which
 * columns and header fields each kind has. No logic lives here; `codec.ts`
 * encodes and decodes these, `validate.ts` checks them against the table.
 *
 * On the wire one message is one Arrow IPC stream (schema + one record batch)
 * in one ZeroMQ frame. The schema's custom metadata holds the header
 * (`kind`, `v`, `id`, ...), the record batch holds the columns. See DESIGN §3.
 */

/**
 * Protocol version written in every header (`v`). Receivers reject others.
 * v2: sampling settings are columns of `stage.input`/`stage.forward`, `stage.tokens` has one row per
 * returned token (rank 0 = sampled, 1.. = top alternatives), the last stage sends results straight to
 * the step's `origin`, `moe.dispatch` carries several experts of one layer (an `expert` column),
 * `status` replaces JSON in `pong`, and the free-form `extra` header is gone.
 */
export const PROTOCOL_VERSION = 2;

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
  /**
   * Routing id of the client a pipeline step's result (or error) goes to, straight from the stage
   * that produces it (≤ 128 printable ASCII characters). Set on `stage.input` and kept on `stage.forward`.
   */
  origin?: string;
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

/**
 * Router → expert host: the rows of one layer routed to experts this host holds, one message per
 * host per layer. Rows of one expert are contiguous; `expert` names each row's expert.
 */
export interface MoeDispatch extends Envelope, HiddenRows {
  kind: "moe.dispatch";
  layer: number;
  /** Expert of each row, `[rows]` uint32. */
  expert: Uint32Array;
}

/** Expert host → router: the expert FFN output for the rows of a dispatch (same row/seq/pos/expert). */
export interface MoeResult extends Envelope, HiddenRows {
  kind: "moe.result";
  layer: number;
  /** `[rows]` uint32, as in the dispatch. */
  expert: Uint32Array;
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


/**
 * Per-row sampling settings, columns of `stage.input` and `stage.forward`. Every row carries its
 * sequence's settings (a few bytes per row), so a message's validity never depends on how many
 * sequences start in it; the last stage reads them at each sequence's last row.
 */
export interface SamplingColumns {
  /** Row flags, `[rows]` uint32: 1 = sample after this row, 2 = prompt token, 4 = return logits, 8 = `seed` is set (model/engine/rows.ts `ROW_FLAGS`). */
  flags: Uint32Array;
  /** `[rows]` float32, ≥ 0 (0 = greedy). */
  temperature: Float32Array;
  /** `[rows]` float32 in (0, 1]. */
  top_p: Float32Array;
  /** `[rows]` uint32, 0 = off. */
  top_k: Uint32Array;
  /** `[rows]` float32 in [0, 1], 0 = off. */
  min_p: Float32Array;
  /** `[rows]` float32 in [-2, 2]. */
  presence_penalty: Float32Array;
  /** `[rows]` float32 in [-2, 2]. */
  frequency_penalty: Float32Array;
  /** `[rows]` float32 > 0, 1 = off. */
  repetition_penalty: Float32Array;
  /** `[rows]` uint32 (valid when the `seeded` flag is set). */
  seed: Uint32Array;
  /** Alternatives returned per sampled token, `[rows]` uint32 in [0, 20]. */
  top_logprobs: Uint32Array;
}

/** Stage i → stage i+1: residual hidden rows of a micro-batch, with their tokens and sampling settings. */
export interface StageForward extends Envelope, HiddenRows, SamplingColumns {
  kind: "stage.forward";
  /** Token id at each row's position, `[rows]` uint32. */
  token: Uint32Array;
}

/**
 * Last stage → the step's origin: the sampled token of every sequence that asked for one (rank 0)
 * and, when asked for, its top alternatives (rank 1..k, most likely first). A step with nothing to
 * sample answers with 0 rows.
 */
export interface StageTokens extends Envelope {
  kind: "stage.tokens";
  /** `[rows]` uint32. */
  seq: Uint32Array;
  /** 0 = the sampled token, 1.. = the rank of an alternative, `[rows]` uint32. */
  rank: Uint32Array;
  /** Token id, `[rows]` uint32. */
  token: Uint32Array;
  /** Natural-log probability under the model, `[rows]` float32, finite. */
  logprob: Float32Array;
}

/**
 * Last stage → the step's origin, before its `stage.tokens`, for rows flagged `logits` (debugging,
 * `--logits-out`, cross-checks): `hidden` is `[rows, vocab]` (dModel = vocab size).
 */
export interface StageLogits extends Envelope, HiddenRows {
  kind: "stage.logits";
}

/** Gateway → stage 0: token ids to embed (prompt chunks or the last sampled token), with sampling settings. */
export interface StageInput extends Envelope, SamplingColumns {
  kind: "stage.input";
  /** `[rows]` uint32. */
  seq: Uint32Array;
  /** `[rows]` uint32. */
  pos: Uint32Array;
  /** `[rows]` uint32. */
  token: Uint32Array;
}

/** Gateway → last stage, before a sequence's first step: its logit bias, one row per (seq, token). */
export interface SeqBias extends Envelope {
  kind: "seq.bias";
  /** `[rows]` uint32. */
  seq: Uint32Array;
  /** `[rows]` uint32. */
  token: Uint32Array;
  /** Added to the token's logit before sampling, `[rows]` float32 in [-100, 100]. */
  bias: Float32Array;
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

/** Ask a process for its counters; answered with `status`. */
export interface StatusRequest extends Envelope {
  kind: "status.request";
}

/**
 * A process's counters, one row per value: `metric` is an index into the receiver's table of metric
 * names (control/status.ts), `a` and `b` its labels (e.g. layer and expert), `value` the number.
 */
export interface Status extends Envelope {
  kind: "status";
  /** `[rows]` uint32. */
  metric: Uint32Array;
  /** `[rows]` uint32. */
  a: Uint32Array;
  /** `[rows]` uint32. */
  b: Uint32Array;
  /** `[rows]` float64. */
  value: Float64Array;
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
  | SeqBias
  | SeqRelease
  | StatusRequest
  | Status
  | ErrorMessage
  | Ping
  | Pong
  | Ready;

/** Every kind tag. */
export type Kind = Message["kind"];

/** The message type of one kind. */
export type MessageOf<K extends Kind> = Extract<Message, { kind: K }>;
