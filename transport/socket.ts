/**
 * What the ROUTER server and the DEALER client share: socket tuning (queues,
 * frame cap, heartbeats) compiled once, the mapping of ZeroMQ errors to
 * transport errors, peer labels, and a serialized send queue (zeromq.js
 * allows one pending send per socket).
 */
import type * as zmq from "zeromq";
import {
  PeerBusyError,
  PeerUnreachableError,
  SocketClosedError,
  TransportConfigError,
  TransportError,
  type TransportErrorContext,
} from "./errors.js";
import { DEFAULT_MAX_MESSAGE_SIZE } from "./validate.js";

/** Queue, frame-size and heartbeat settings of a socket. */
export interface SocketTuning {
  /** Most messages queued for sending per peer (ZMQ_SNDHWM). Default 1000. */
  sendHighWaterMark?: number;
  /** Most messages queued on receipt per peer (ZMQ_RCVHWM). Default 1000. */
  receiveHighWaterMark?: number;
  /**
   * Largest frame accepted, bytes. Frames above it are counted as rejected
   * (`FRAME_TOO_LARGE`) before parsing; frames above twice it are refused by
   * libzmq itself (ZMQ_MAXMSGSIZE), which drops that connection. Default 64 MiB.
   */
  maxMessageSize?: number;
  /** ZMTP heartbeat period, ms (ZMQ_HEARTBEAT_IVL); 0 disables heartbeats. Default 1000. */
  heartbeatIntervalMs?: number;
  /** Drop the connection when no traffic follows a heartbeat for this long, ms. Default 3 × interval. */
  heartbeatTimeoutMs?: number;
  /** Ask the peer to drop the connection after this long without traffic from us, ms. Default 3 × interval. */
  heartbeatTtlMs?: number;
  /** ZeroMQ context (default: the process-wide one). */
  context?: zmq.Context;
}

/** {@link SocketTuning} with defaults applied. */
export interface CompiledTuning {
  readonly sendHighWaterMark: number;
  readonly receiveHighWaterMark: number;
  readonly maxMessageSize: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly heartbeatTtlMs: number;
  readonly context?: zmq.Context;
}

function count(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new TransportConfigError(`${name} ${value} must be an integer ≥ ${min}`, { field: name, fix: `set ${name} to a whole number ≥ ${min}` });
  }
  return value;
}

/**
 * Apply defaults and check values once.
 * @throws TransportConfigError naming the field
 */
export function compileTuning(t: SocketTuning, maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE): CompiledTuning {
  const interval = count("heartbeatIntervalMs", t.heartbeatIntervalMs ?? 1000, 0);
  return Object.freeze({
    sendHighWaterMark: count("sendHighWaterMark", t.sendHighWaterMark ?? 1000, 1),
    receiveHighWaterMark: count("receiveHighWaterMark", t.receiveHighWaterMark ?? 1000, 1),
    maxMessageSize: count("maxMessageSize", t.maxMessageSize ?? maxMessageSize, 64),
    heartbeatIntervalMs: interval,
    heartbeatTimeoutMs: count("heartbeatTimeoutMs", t.heartbeatTimeoutMs ?? 3 * interval, 0),
    heartbeatTtlMs: count("heartbeatTtlMs", t.heartbeatTtlMs ?? 3 * interval, 0),
    context: t.context,
  });
}

/**
 * Check a process name used as `sender` / `host` (≤ 128 printable ASCII characters).
 * @throws TransportConfigError
 */
export function checkName(name: string | undefined): void {
  if (name !== undefined && (name.length > 128 || !/^[\x20-\x7e]*$/.test(name))) {
    throw new TransportConfigError(`name "${name.slice(0, 40)}" must be at most 128 printable ASCII characters`, { field: "name" });
  }
}

/** ZeroMQ options common to server and client sockets. */
export function socketOptions(t: CompiledTuning): Record<string, unknown> {
  const options: Record<string, unknown> = {
    linger: 0,
    sendHighWaterMark: t.sendHighWaterMark,
    receiveHighWaterMark: t.receiveHighWaterMark,
    maxMessageSize: Math.min(2 * t.maxMessageSize, 2 ** 52),
    heartbeatInterval: t.heartbeatIntervalMs,
    heartbeatTimeout: t.heartbeatTimeoutMs,
    heartbeatTimeToLive: t.heartbeatTtlMs,
  };
  if (t.context !== undefined) options.context = t.context;
  return options;
}

/** A readable label for a ROUTER routing id: the text when printable, else `0x` + hex. */
export function peerLabel(id: Uint8Array): string {
  const buf = Buffer.from(id.buffer, id.byteOffset, id.byteLength);
  const text = buf.toString("latin1");
  return /^[\x21-\x7e]{1,64}$/.test(text) ? text : `0x${buf.toString("hex")}`;
}

/** Map an error thrown by a zeromq.js send to a transport error. */
export function mapSendError(err: unknown, ctx: TransportErrorContext): TransportError {
  if (err instanceof TransportError) return err;
  const code = (err as { code?: string } | null)?.code;
  const what = ctx.kind !== undefined ? `${ctx.kind} to ${ctx.peer}` : `message to ${ctx.peer}`;
  switch (code) {
    case "EHOSTUNREACH":
      return new PeerUnreachableError(`cannot send ${what}: the peer is not connected (gone, or never was)`, { ...ctx, cause: err });
    case "EAGAIN":
      return new PeerBusyError(`cannot send ${what}: its queue is at the high-water mark`, { ...ctx, cause: err, fix: "the peer is slow or stuck; retry later or raise sendHighWaterMark" });
    case "EBADF":
    case "ETERM":
    case "ENOTSOCK":
      return new SocketClosedError(`cannot send ${what}: the socket is closed`, { ...ctx, cause: err });
    default:
      return new TransportError("SEND_FAILED", `cannot send ${what}: ${(err as Error)?.message ?? String(err)}`, { ...ctx, cause: err });
  }
}

/**
 * Serializes sends on one socket: zeromq.js refuses a second send while one
 * waits (`EBUSY`). Each task runs after the previous one settled; a task
 * queued while none is pending runs at once (synchronously), so a frame goes
 * to ZeroMQ before the caller encodes the next one (a router's dispatches to
 * several hosts leave one by one as they are encoded, not after the last).
 */
export class SendQueue {
  private tail: Promise<unknown> = Promise.resolve();
  /** Tasks queued or running. */
  private busy = 0;
  private readonly settled = (): void => void this.busy--;

  /** Nothing queued or running: a send now goes to ZeroMQ at once. */
  get idle(): boolean {
    return this.busy === 0;
  }

  /** Run `task` after every task queued before it (now, when there is none). */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.busy === 0 ? task() : this.tail.then(task, task);
    this.busy++;
    this.tail = result.then(this.settled, this.settled);
    return result;
  }

  /**
   * `socket.send(message)` in turn: at once when nothing is queued (no closure: the hot path of every
   * reply and request), else after the sends queued before it.
   */
  send(socket: { send(message: never): Promise<void> }, message: unknown): Promise<void> {
    if (this.busy !== 0) return this.run(() => socket.send(message as never));
    const result = socket.send(message as never);
    this.busy++;
    this.tail = result.then(this.settled, this.settled);
    return result;
  }
}
