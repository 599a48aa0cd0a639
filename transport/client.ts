/**
 * `RpcClient`: the calling side of the data plane, a ZeroMQ DEALER connected
 * to one server endpoint.
 *
 * Every request gets an id and a deadline; many may be in flight at once and
 * replies are matched by id. A request that gets no reply before its
 * deadline rejects with `DeadlineExceededError` naming the peer; a full
 * pending queue rejects at once with `QueueFullError`; `close()` rejects
 * whatever is pending with `SocketClosedError`. Replies are validated like
 * any received frame.
 */
import type { Logger } from "pino";
import * as zmq from "zeromq";
import { decode, encode } from "./codec.js";
import { deadlineIn } from "./deadline.js";
import { requireCurve, type CurveClientOptions } from "./curve.js";
import {
  HandshakeFailedError,
  DeadlineExceededError,
  InvalidMessageError,
  MalformedFrameError,
  PeerUnreachableError,
  QueueFullError,
  RemoteError,
  SocketClosedError,
  TransportConfigError,
  UnexpectedReplyError,
  type TransportError,
} from "./errors.js";
import { HANDSHAKE_FAILURES, handshakeError } from "./handshake.js";
import { REPLY_KINDS, type ReplyOf } from "./kinds.js";
import type { Kind, Message } from "./messages.js";
import { TransportMetrics } from "./metrics.js";
import { SendQueue, checkName, compileTuning, mapSendError, socketOptions, type CompiledTuning, type SocketTuning } from "./socket.js";
import { compileExpectation, type Expectation } from "./validate.js";

/** Options of {@link RpcClient.connect}. */
export interface RpcClientOptions extends SocketTuning {
  /** Server address, e.g. `tcp://10.0.0.2:5555` or `ipc:///run/moe/expert-0.sock`. */
  endpoint: string;
  /** What this client accepts as replies (d_model, kinds, dtypes, limits). */
  expect: Expectation;
  /** Written as `sender` in requests. */
  name?: string;
  /** ROUTER routing id of this client (1–255 bytes, printable); random when absent. */
  identity?: string;
  /** Turn on CURVE with the cluster's keys. */
  curve?: CurveClientOptions;
  /** Most requests in flight; more reject with QueueFullError. Default 1024. */
  maxPending?: number;
  /** Deadline of a request when none is given, ms. Default 10000. */
  defaultDeadlineMs?: number;
  /**
   * How long a send may wait for room when the queue to the server is at its high-water mark, ms (-1: until
   * there is room). Default 0: the request fails at once with PeerBusyError, and a send goes to ZeroMQ without
   * first asking the socket whether it is writable (zeromq.js skips a `ZMQ_EVENTS` query, one system call, per send).
   */
  sendTimeoutMs?: number;
  /**
   * Receives valid messages that answer no pending request of this client (server pushes, e.g. a
   * pipeline step's `stage.tokens` sent by the last stage to the step's origin).
   */
  onMessage?: (message: Message) => void;
  /** Called when an established connection to the server drops (peer killed, heartbeat timeout). */
  onDisconnect?: () => void;
  /** Structured logger; silent when absent. */
  logger?: Logger;
}

/** Per-request options. */
export interface RequestOptions {
  /** Time allowed for the reply, ms from now. Default: the client's `defaultDeadlineMs`. */
  deadlineMs?: number;
}

interface Pending {
  kind: Kind;
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  startedAt: number;
}

/** A DEALER that sends requests and matches replies by id. */
export class RpcClient {
  /** Counters, under the endpoint as peer label. */
  readonly metrics = new TransportMetrics(4);
  private readonly pending = new Map<number, Pending>();
  private readonly sendQueue = new SendQueue();
  private readonly maxPending: number;
  private readonly defaultDeadlineMs: number;
  private nextId = 1;
  private closed = false;
  /** A ZMTP connection to the server is up (set on a successful handshake, cleared on disconnect). */
  private connected = false;
  /** The connection was up once: from then on a lost connection fails requests at once. */
  private everConnected = false;
  /** The last handshake failed (and none succeeded since): requests fail at once with this. */
  private refused: HandshakeFailedError | undefined;
  private readonly done: Promise<void>;

  private constructor(
    private readonly socket: zmq.Dealer,
    private readonly options: RpcClientOptions,
    private readonly tuning: CompiledTuning,
  ) {
    this.maxPending = options.maxPending ?? 1024;
    this.defaultDeadlineMs = options.defaultDeadlineMs ?? 10_000;
    this.done = this.receiveLoop();
    this.watchConnection();
  }

  /**
   * Track the connection. When it drops (peer killed, heartbeat timeout) the
   * replies of pending requests can never arrive: fail them now with
   * PeerUnreachableError instead of at their deadlines, and fail new requests
   * at once until the connection is back, so callers can fail over quickly.
   */
  private watchConnection(): void {
    const up = () => {
      this.connected = true;
      this.everConnected = true;
      this.refused = undefined;
    };
    // "handshake" = ZMTP (and CURVE) handshake succeeded; a client the server refuses never gets there
    this.socket.events.on("handshake", up);
    for (const failure of HANDSHAKE_FAILURES)
      this.socket.events.on(failure, (event: { error?: Error }) => {
        if (this.closed || this.connected) return;
        this.refused = handshakeError(this.endpoint, failure, event.error?.message, this.options.curve !== undefined);
        this.metrics.error(this.endpoint, "HANDSHAKE_FAILED");
        for (const id of [...this.pending.keys()]) this.settle(id, undefined, this.refused);
      });
    this.socket.events.on("disconnect", () => {
      if (this.closed || !this.connected) return;
      this.connected = false;
      this.metrics.error(this.endpoint, "DISCONNECTED");
      for (const [id, p] of this.pending)
        this.settle(id, undefined, new PeerUnreachableError(`${p.kind} request ${id} to ${this.endpoint} was pending when the connection to the peer was lost`, { peer: this.endpoint, kind: p.kind, id }));
      this.options.onDisconnect?.();
    });
  }

  /** Whether a connection to the server is up. */
  get isConnected(): boolean {
    return this.connected;
  }

  /**
   * Create a DEALER and connect it (connection happens in the background;
   * requests queue until then, within their deadlines).
   * @throws TransportConfigError on bad options; CurveConfigError without CURVE support
   */
  static connect(options: RpcClientOptions): RpcClient {
    const tuning = compileTuning(options, options.expect.maxMessageSize);
    const opts: RpcClientOptions = { ...options, expect: { ...options.expect, maxMessageSize: tuning.maxMessageSize } };
    compileExpectation(opts.expect);
    for (const [name, value, min] of [["maxPending", opts.maxPending ?? 1024, 1], ["defaultDeadlineMs", opts.defaultDeadlineMs ?? 10_000, 1], ["sendTimeoutMs", opts.sendTimeoutMs ?? 0, -1]] as const) {
      if (!Number.isInteger(value) || value < min) throw new TransportConfigError(`${name} ${value} must be an integer ≥ ${min}`, { field: name });
    }
    checkName(opts.name);
    const zmqOptions: Record<string, unknown> = { ...socketOptions(tuning), sendTimeout: opts.sendTimeoutMs ?? 0 };
    if (opts.identity !== undefined) {
      if (!/^[\x21-\x7e]{1,255}$/.test(opts.identity)) throw new TransportConfigError(`identity "${opts.identity}" must be 1–255 printable characters`, { field: "identity" });
      zmqOptions.routingId = opts.identity;
    }
    if (opts.curve !== undefined) {
      requireCurve();
      Object.assign(zmqOptions, { curveServerKey: opts.curve.serverKey, curvePublicKey: opts.curve.client.publicKey, curveSecretKey: opts.curve.client.secretKey });
    }
    const socket = new zmq.Dealer(zmqOptions as zmq.SocketOptions<zmq.Dealer>);
    // construct first: its connection watcher must be listening before the connection is made
    const client = new RpcClient(socket, opts, tuning);
    try {
      socket.connect(opts.endpoint);
    } catch (cause) {
      void client.close();
      throw new TransportConfigError(`cannot connect to ${opts.endpoint}: ${(cause as Error).message}`, { cause, field: "endpoint" });
    }
    return client;
  }

  /** The server address this client talks to (its peer label in metrics and errors). */
  get endpoint(): string {
    return this.options.endpoint;
  }

  /** Requests waiting for a reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Largest reply frame accepted, bytes. */
  get maxMessageSize(): number {
    return this.tuning.maxMessageSize;
  }

  /**
   * Send a request and wait for the reply with the same id.
   * @param message any message; `id`, `deadline` and (if unset) `sender` are filled in
   * @returns the reply (of the kind in `REPLY_KINDS` for mapped kinds)
   * @throws DeadlineExceededError (no reply in time), QueueFullError, RemoteError (peer answered `error`),
   *   UnexpectedReplyError, InvalidMessageError (the reply was invalid), SocketClosedError, send errors, EncodeError
   */
  request<M extends Message>(message: M, options: RequestOptions = {}): Promise<ReplyOf<M["kind"]>> {
    const peer = this.options.endpoint;
    const { kind } = message;
    const routing = message as { layer?: number; expert?: number };
    const unavailable = this.unavailable(kind);
    if (unavailable) return Promise.reject(unavailable);
    if (this.pending.size >= this.maxPending) {
      this.metrics.error(peer, "QUEUE_FULL");
      return Promise.reject(new QueueFullError(`cannot send ${kind} to ${peer}: ${this.pending.size} requests already in flight (maxPending)`, { peer, kind, fix: "wait for replies or raise maxPending" }));
    }
    const deadlineMs = options.deadlineMs ?? this.defaultDeadlineMs;
    const id = this.nextId;
    this.nextId = this.nextId >= Number.MAX_SAFE_INTEGER ? 1 : this.nextId + 1;
    let frame: Uint8Array;
    try {
      frame = encode({ ...message, id, deadline: deadlineIn(deadlineMs), sender: message.sender ?? this.options.name });
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<ReplyOf<M["kind"]>>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        this.metrics.error(peer, "DEADLINE_EXCEEDED");
        reject(new DeadlineExceededError(`${kind} request ${id} to ${peer} got no reply within ${deadlineMs} ms`, deadlineMs, { peer, kind, id, layer: routing.layer, expert: routing.expert }));
      }, deadlineMs);
      this.pending.set(id, { kind, resolve: resolve as (m: Message) => void, reject, timer, startedAt: performance.now() });
      this.transmit(frame, kind, id).catch((err: TransportError) => this.settle(id, undefined, err));
    });
  }

  /**
   * Send a one-way message (no reply expected), e.g. `stage.forward`.
   * @returns once the message is queued in ZeroMQ
   * @throws PeerUnreachableError when the connection was up once and is down now (fail fast, no silent queueing)
   */
  async send(message: Message): Promise<void> {
    const unavailable = this.unavailable(message.kind);
    if (unavailable) throw unavailable;
    const frame = encode(message.sender === undefined && this.options.name !== undefined ? { ...message, sender: this.options.name } : message);
    await this.transmit(frame, message.kind, undefined);
  }

  /**
   * Why a message of `kind` cannot be sent now, if it cannot: the client is closed, the server refused its
   * handshake (until one succeeds), or the connection was up once and is down (fail fast, no silent queueing).
   */
  private unavailable(kind: Kind): TransportError | undefined {
    const peer = this.options.endpoint;
    if (this.closed) return new SocketClosedError(`cannot send ${kind} to ${peer}: the client is closed`, { peer, kind });
    if (this.refused !== undefined) return this.refused;
    if (this.everConnected && !this.connected) {
      this.metrics.error(peer, "PEER_UNREACHABLE");
      return new PeerUnreachableError(`cannot send ${kind} to ${peer}: the connection to the peer is down (reconnecting)`, { peer, kind });
    }
    return undefined;
  }

  /** Round trip a `ping`; resolves with the time taken, ms. */
  async ping(options: RequestOptions = {}): Promise<number> {
    const t0 = performance.now();
    await this.request({ kind: "ping" }, options);
    return performance.now() - t0;
  }

  /**
   * Send a frame: at once when the socket's queue is idle (the usual case), else in turn; a queued request's
   * frame is skipped when its request already settled (deadline).
   */
  private async transmit(frame: Uint8Array, kind: Kind, id: number | undefined): Promise<void> {
    const peer = this.options.endpoint;
    try {
      if (this.sendQueue.idle) await this.sendQueue.send(this.socket, frame);
      else {
        const sent = await this.sendQueue.run(async () => {
          if (id !== undefined && !this.pending.has(id)) return false;
          await this.socket.send(frame);
          return true;
        });
        if (!sent) return;
      }
    } catch (err) {
      const e = mapSendError(err, { peer, kind, id });
      this.metrics.error(peer, e.code);
      throw e;
    }
    this.metrics.sent(peer, frame.byteLength);
  }

  /** Resolve or reject the pending request `id`. */
  private settle(id: number, reply: Message | undefined, error?: Error): boolean {
    const p = this.pending.get(id);
    if (p === undefined) return false;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (error !== undefined) p.reject(error);
    else {
      this.metrics.latency(this.options.endpoint, performance.now() - p.startedAt);
      p.resolve(reply!);
    }
    return true;
  }

  private onFrames(frames: Buffer[]): void {
    const peer = this.options.endpoint;
    const bytes = frames.reduce((n, f) => n + f.length, 0);
    this.metrics.received(peer, bytes);
    let reply: Message;
    try {
      if (frames.length !== 1) throw new MalformedFrameError(`expected one frame per reply, got ${frames.length}`, { peer });
      reply = decode(frames[0], this.options.expect);
    } catch (err) {
      const e = err as InvalidMessageError;
      this.metrics.rejected(peer, e.code ?? "MALFORMED_FRAME");
      if (e.id !== undefined) this.settle(e.id, undefined, e);
      return;
    }
    const p = this.pending.get(reply.id ?? 0);
    if (p === undefined) {
      if (this.options.onMessage !== undefined) this.options.onMessage(reply);
      else this.metrics.error(peer, "LATE_REPLY");
      return;
    }
    const id = reply.id!;
    if (reply.kind === "error") {
      this.metrics.error(peer, "REMOTE_ERROR");
      this.settle(id, undefined, new RemoteError(reply.code, `${p.kind} request ${id} to ${peer} failed remotely: ${reply.code}: ${reply.message}`, { peer, kind: p.kind, id, layer: reply.layer, expert: reply.expert, host: reply.host }));
      return;
    }
    const wanted = (REPLY_KINDS as Partial<Record<Kind, Kind>>)[p.kind];
    if (wanted !== undefined && reply.kind !== wanted) {
      this.metrics.error(peer, "UNEXPECTED_REPLY");
      this.settle(id, undefined, new UnexpectedReplyError(`${p.kind} request ${id} to ${peer} was answered with ${reply.kind}, expected ${wanted}`, { peer, kind: reply.kind, id }));
      return;
    }
    this.settle(id, reply);
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.socket) this.onFrames(frames);
    } catch (err) {
      if (!this.closed) this.options.logger?.error({ peer: this.endpoint, err: (err as Error).message }, "receive loop failed");
    }
  }

  /** True once {@link close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Close the socket (linger 0) and reject every pending request with SocketClosedError. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    for (const [id, p] of this.pending) {
      this.settle(id, undefined, new SocketClosedError(`${p.kind} request ${id} to ${this.endpoint} was pending when the client closed`, { peer: this.endpoint, kind: p.kind, id }));
    }
    await this.done;
  }
}
