/**
 * Errors of the transport layer. Everything that goes wrong on the wire
 * (a bad frame, a dead peer, a missed deadline, a full queue, a bad key file)
 * becomes one of these classes at the transport boundary, so callers can
 * switch on `code` and log the context.
 */
import { MoeError } from "../common/index.js";

/** Context carried by transport errors; every field optional. */
export interface TransportErrorContext {
  /** The remote side: a ROUTER peer label (`0x…` or its routing id) or an endpoint. */
  peer?: string;
  /** Message kind involved, e.g. `moe.dispatch`. */
  kind?: string;
  /** Header field or column name at fault. */
  field?: string;
  /** Request id (header `id`). */
  id?: number;
  /** Model layer, when the message names one. */
  layer?: number;
  /** Expert index, when the message names one. */
  expert?: number;
  /** Host name, when known (e.g. the sender of a remote error). */
  host?: string;
  /** File at fault (key files). */
  file?: string;
  /** What to do about it, when known. */
  fix?: string;
  cause?: unknown;
}

/** Base class of this folder's errors (see common/errors.ts): `code`, the context fields and the fix. */
export class TransportError extends MoeError {
  declare readonly peer?: string;
  declare readonly kind?: string;
  declare readonly field?: string;
  declare readonly id?: number;
  declare readonly layer?: number;
  declare readonly expert?: number;
  declare readonly host?: string;
  declare readonly file?: string;
  constructor(code: string, message: string, ctx: TransportErrorContext = {}) {
    super(code, message, ctx);
  }
}

/**
 * A received frame was rejected by validation. Subclasses say why; every
 * rejection is counted per peer (`rejected` in the metrics) and never crashes
 * the receiver.
 */
export class InvalidMessageError extends TransportError {}

/** The frame is longer than the receiver's `maxMessageSize`; it was not parsed. */
export class FrameTooLargeError extends InvalidMessageError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("FRAME_TOO_LARGE", message, ctx);
  }
}

/** The frame is not one well-formed Arrow IPC stream (schema + one record batch). */
export class MalformedFrameError extends InvalidMessageError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("MALFORMED_FRAME", message, ctx);
  }
}

/** The header's `kind` is not one this receiver knows or accepts. */
export class UnknownKindError extends InvalidMessageError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("UNKNOWN_KIND", message, ctx);
  }
}

/** The header's `v` is not a supported protocol version. */
export class UnsupportedVersionError extends InvalidMessageError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("UNSUPPORTED_VERSION", message, ctx);
  }
}

/** A header field is missing, unknown, or not of its type. */
export class BadHeaderError extends InvalidMessageError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("BAD_HEADER", message, ctx);
  }
}

/** The columns are not exactly the ones expected for the kind (names, types, list size). */
export class SchemaMismatchError extends InvalidMessageError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("SCHEMA_MISMATCH", message, ctx);
  }
}

/** Row counts, buffer sizes or `d_model` disagree with each other or with the model. */
export class SizeMismatchError extends InvalidMessageError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("SIZE_MISMATCH", message, ctx);
  }
}

/** A float column that must be finite holds NaN or ±Infinity. */
export class NonFiniteError extends InvalidMessageError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("NON_FINITE", message, ctx);
  }
}

/** A message could not be encoded (columns of the wrong length, a header that does not fit). */
export class EncodeError extends TransportError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("ENCODE", message, ctx);
  }
}

/** A request's deadline passed before its reply arrived. */
export class DeadlineExceededError extends TransportError {
  /** The deadline that passed, in milliseconds after the request was made. */
  readonly deadlineMs: number;
  constructor(message: string, deadlineMs: number, ctx: TransportErrorContext = {}) {
    super("DEADLINE_EXCEEDED", message, ctx);
    this.deadlineMs = deadlineMs;
  }
}

/** The bounded queue of in-flight requests is full; the request was not sent. */
export class QueueFullError extends TransportError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("QUEUE_FULL", message, ctx);
  }
}

/** A ROUTER send named a peer that is not (or no longer) connected (`EHOSTUNREACH`). */
export class PeerUnreachableError extends TransportError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("PEER_UNREACHABLE", message, ctx);
  }
}

/**
 * The ZMTP handshake with the peer failed (CURVE keys refused or mismatched, CURVE on one side only): the peer
 * will never answer this client. Requests fail with it at once until a handshake succeeds.
 */
export class HandshakeFailedError extends TransportError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("HANDSHAKE_FAILED", message, ctx);
  }
}

/** A send could not be queued before the send timeout: the peer's high-water mark is reached. */
export class PeerBusyError extends TransportError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("PEER_BUSY", message, ctx);
  }
}

/** The socket was closed (by `close()`) while the operation was pending. */
export class SocketClosedError extends TransportError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("SOCKET_CLOSED", message, ctx);
  }
}

/** The peer answered a request with an `error` message; `remoteCode` is its code. */
export class RemoteError extends TransportError {
  readonly remoteCode: string;
  constructor(remoteCode: string, message: string, ctx: TransportErrorContext = {}) {
    super("REMOTE_ERROR", message, ctx);
    this.remoteCode = remoteCode;
  }
}

/** A reply arrived with a kind that does not answer the request's kind. */
export class UnexpectedReplyError extends TransportError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("UNEXPECTED_REPLY", message, ctx);
  }
}

/** A CURVE key file is missing, malformed or too widely readable. */
export class KeyFileError extends TransportError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("KEY_FILE", message, ctx);
  }
}

/** CURVE was asked for but this build of libzmq lacks it, or keys are incomplete. */
export class CurveConfigError extends TransportError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("CURVE_CONFIG", message, ctx);
  }
}

/** Socket options are invalid (a negative high-water mark, a bad endpoint, ...). */
export class TransportConfigError extends TransportError {
  constructor(message: string, ctx: TransportErrorContext = {}) {
    super("TRANSPORT_CONFIG", message, ctx);
  }
}
