/**
 * transport/: the data plane's wire. ZeroMQ ROUTER/DEALER sockets with request
 * ids, deadlines, bounded queues and heartbeats; the Arrow codec and message
 * kinds of DESIGN §3 with validation of every received frame; per-peer
 * metrics; CURVE keys and a ZAP handler. Other folders import only this file.
 */

// Message kinds (data) and their wire codec.
export { PROTOCOL_VERSION, WIRE_DTYPES } from "./messages.js";
export {
  ALL_KINDS,
  COLUMN_TYPES,
  HEADER_KEYS,
  HEADER_LIMITS,
  KINDS,
  REPLY_KINDS,
  SAMPLING_COLUMNS,
} from "./kinds.js";
export type {
  Envelope,
  ErrorMessage,
  HiddenRows,
  Kind,
  Message,
  MessageOf,
  MoeDispatch,
  MoeResult,
  Ping,
  Pong,
  Ready,
  RouterRequest,
  RouterResponse,
  SamplingColumns,
  SeqBias,
  SeqRelease,
  StageForward,
  StageInput,
  StageLogits,
  StageTokens,
  Status,
  StatusRequest,
  WireDtype,
} from "./messages.js";
export type { ColumnName, ColumnType, KindSpec, ReplyOf } from "./kinds.js";
export { decode, encode, encodeReference } from "./codec.js";
export { DEFAULT_MAX_MESSAGE_SIZE, compileExpectation } from "./validate.js";
export type { CompiledExpectation, Expectation } from "./validate.js";
export { f16ArrayToF32, f16BitsToNumber, f32ArrayToF16, f32ToF16Bits, roundThroughF16 } from "./f16.js";

// Deadlines: the default step deadline and the arithmetic between "ms from now" and header deadlines.
export { DEFAULT_STEP_DEADLINE_MS, deadlineIn, deadlineOr, hasDeadline, msLeft, msUntil } from "./deadline.js";

// Sockets.
export { RpcServer } from "./server.js";
export type { Handler, Incoming, RpcServerOptions } from "./server.js";
export { RpcClient } from "./client.js";
export type { RequestOptions, RpcClientOptions } from "./client.js";
export { SendQueue } from "./socket.js";
export type { SocketTuning } from "./socket.js";

// Metrics: per-peer wire metrics; the gateway's Prometheus series names (shared with the load tester).
export { OTHER_PEERS, TransportMetrics } from "./metrics.js";
export { METRIC_LABELS, METRIC_NAMES } from "./metric-names.js";
export type { MetricKey } from "./metric-names.js";
export type { LatencySnapshot, PeerSnapshot, TransportMetricsSnapshot } from "./metrics.js";

// CURVE keys and authentication.
export { KEY_FILES, clientCurve, generateClusterKeys, loadClusterKeys, newKeyPair, publicKeyOf, serverCurve } from "./curve.js";
export type { ClusterKeys, CurveClientOptions, CurveKeyPair, CurveServerOptions } from "./curve.js";
export type { ZapStats } from "./zap.js";

// Errors.
export {
  BadHeaderError,
  CurveConfigError,
  DeadlineExceededError,
  EncodeError,
  FrameTooLargeError,
  InvalidMessageError,
  KeyFileError,
  MalformedFrameError,
  NonFiniteError,
  PeerBusyError,
  PeerUnreachableError,
  HandshakeFailedError,
  QueueFullError,
  RemoteError,
  SchemaMismatchError,
  SizeMismatchError,
  SocketClosedError,
  TransportConfigError,
  TransportError,
  UnexpectedReplyError,
  UnknownKindError,
  UnsupportedVersionError,
} from "./errors.js";
export type { TransportErrorContext } from "./errors.js";
