/**
 * `RpcServer`: the serving side of the data plane, a ZeroMQ ROUTER.
 *
 * It receives (peer, message) pairs, each frame decoded and validated (a bad
 * one is counted as rejected and, when its request id is readable, answered
 * with an `error` message), and sends replies to a named peer. ROUTER_MANDATORY
 * is on and the send timeout is 0 by default, so a send to a peer that has
 * gone is a `PeerUnreachableError` and a send to a peer whose queue is full a
 * `PeerBusyError`: never a silent drop, never a stall of the other peers.
 */
import { rmSync } from "node:fs";
import type { Logger } from "pino";
import * as zmq from "zeromq";
import { decode, encode } from "./codec.js";
import { hasDeadline, msLeft } from "./deadline.js";
import { requireCurve, type CurveServerOptions } from "./curve.js";
import { InvalidMessageError, MalformedFrameError, TransportConfigError, TransportError } from "./errors.js";
import type { Message } from "./messages.js";
import { TransportMetrics } from "./metrics.js";
import { SendQueue, checkName, compileTuning, mapSendError, peerLabel, socketOptions, type CompiledTuning, type SocketTuning } from "./socket.js";
import { compileExpectation, type Expectation } from "./validate.js";
import { registerZap, type ZapRegistration, type ZapStats } from "./zap.js";

/** Options of {@link RpcServer.bind}. */
export interface RpcServerOptions extends SocketTuning {
  /** Where to bind: `tcp://127.0.0.1:0` (ephemeral port), `ipc:///path`, `inproc://name`. */
  endpoint: string;
  /** What this server accepts (d_model, kinds, dtypes, limits). */
  expect: Expectation;
  /** Written as `sender` in replies and `host` in error replies. */
  name?: string;
  /** Turn on CURVE: only clients holding an authorized key are accepted. */
  curve?: CurveServerOptions;
  /** How long a send may wait for room in a full peer queue, ms. Default 0 (fail at once). */
  sendTimeoutMs?: number;
  /** Skip requests whose `deadline` passed (counted as `EXPIRED`). Default true. */
  dropExpired?: boolean;
  /** Slack for clock skew when judging deadlines, ms. Default 50. */
  deadlineGraceMs?: number;
  /** Answer an invalid request whose id is readable with an `error` message. Default true. */
  replyToInvalid?: boolean;
  /** Most peer labels kept in the metrics. Default 1024. */
  maxPeers?: number;
  /** Called for every rejected frame. */
  onReject?: (error: InvalidMessageError, peer: string) => void;
  /** Structured logger; silent when absent. */
  logger?: Logger;
}

/** One received, validated message. */
export interface Incoming<M extends Message = Message> {
  /** ROUTER routing id of the sender; pass it to {@link RpcServer.send}. */
  readonly peer: Buffer;
  /** Printable form of `peer` (its routing id when the client set one). */
  readonly peerLabel: string;
  readonly message: M;
  /** Frame size, bytes. */
  readonly bytes: number;
  /** `performance.now()` at receipt, ms. */
  readonly receivedAt: number;
}

/** What a handler returns: the reply, or nothing for one-way messages. */
export type Handler = (request: Incoming) => Message | undefined | void | Promise<Message | undefined | void>;

/** A ROUTER that receives validated messages and sends replies. */
export class RpcServer {
  /** Per-peer counters (label = {@link Incoming.peerLabel}). */
  readonly metrics: TransportMetrics;
  private readonly sendQueue = new SendQueue();
  private consuming = false;
  private closed = false;

  private constructor(
    private readonly socket: zmq.Router,
    /** The bound address, with the real port when `:0` was asked for. */
    readonly endpoint: string,
    private readonly options: RpcServerOptions,
    private readonly tuning: CompiledTuning,
    private readonly zap: ZapRegistration | undefined,
  ) {
    this.metrics = new TransportMetrics(options.maxPeers);
  }

  /**
   * Create a ROUTER with the options compiled and bind it.
   * @throws TransportConfigError on bad options or a failed bind; CurveConfigError without CURVE support
   */
  static async bind(options: RpcServerOptions): Promise<RpcServer> {
    const tuning = compileTuning(options, options.expect.maxMessageSize);
    const opts: RpcServerOptions = { ...options, expect: { ...options.expect, maxMessageSize: tuning.maxMessageSize } };
    compileExpectation(opts.expect);
    checkName(opts.name);
    const sendTimeout = opts.sendTimeoutMs ?? 0;
    if (!Number.isInteger(sendTimeout) || sendTimeout < -1) throw new TransportConfigError(`sendTimeoutMs ${sendTimeout} must be an integer ≥ -1`, { field: "sendTimeoutMs" });
    // mandatory: unroutable sends fail (EHOSTUNREACH). No ROUTER_HANDOVER: libzmq 4.3 has pipe races
    // with it (zeromq/libzmq#4407); a client restarted under the same routing id is accepted once
    // heartbeats have dropped its old connection.
    const zmqOptions: Record<string, unknown> = { ...socketOptions(tuning), mandatory: true, sendTimeout };
    let zap: ZapRegistration | undefined;
    if (opts.curve !== undefined) {
      requireCurve();
      const domain = opts.curve.domain ?? "moe";
      zap = await registerZap(tuning.context ?? zmq.context, domain, opts.curve.authorizedClients);
      Object.assign(zmqOptions, { curveServer: true, curveSecretKey: opts.curve.server.secretKey, zapDomain: domain, zapEnforceDomain: true });
    }
    const socket = new zmq.Router(zmqOptions as zmq.SocketOptions<zmq.Router>);
    try {
      await socket.bind(opts.endpoint);
    } catch (cause) {
      socket.close();
      await zap?.release();
      throw new TransportConfigError(`cannot bind ${opts.endpoint}: ${(cause as Error).message}`, { cause, field: "endpoint", fix: "pick a free port (or :0) and a writable ipc path" });
    }
    return new RpcServer(socket, socket.lastEndpoint ?? opts.endpoint, opts, tuning, zap);
  }

  /** Largest frame accepted, bytes. */
  get maxMessageSize(): number {
    return this.tuning.maxMessageSize;
  }

  /** ZAP decisions so far (zeros without CURVE). */
  zapStats(): ZapStats {
    return this.zap?.stats() ?? { accepted: 0, denied: 0 };
  }

  /** Validate one received multipart message; undefined when rejected or expired. */
  private accept(frames: Buffer[]): Incoming | undefined {
    const receivedAt = performance.now();
    const [peer, ...parts] = frames;
    const label = peerLabel(peer);
    const bytes = parts.reduce((n, p) => n + p.length, 0);
    this.metrics.received(label, bytes);
    let message: Message;
    try {
      if (parts.length !== 1) throw new MalformedFrameError(`expected one frame per message, got ${parts.length}`, { peer: label });
      message = decode(parts[0], this.options.expect);
    } catch (err) {
      this.reject(peer, label, err as InvalidMessageError);
      return undefined;
    }
    const grace = this.options.deadlineGraceMs ?? 50;
    if (this.options.dropExpired !== false && hasDeadline(message.deadline) && msLeft(message.deadline) < -grace) {
      this.metrics.error(label, "EXPIRED");
      this.options.logger?.debug({ peer: label, kind: message.kind, id: message.id }, "dropped a request past its deadline");
      return undefined;
    }
    return { peer, peerLabel: label, message, bytes, receivedAt };
  }

  private reject(peer: Buffer, label: string, err: InvalidMessageError): void {
    const code = err instanceof TransportError ? err.code : "MALFORMED_FRAME";
    this.metrics.rejected(label, code);
    this.options.logger?.debug({ peer: label, code, err: err.message }, "rejected a frame");
    this.options.onReject?.(err, label);
    if (this.options.replyToInvalid !== false && err.id !== undefined && err.id > 0) {
      const reply: Message = { kind: "error", id: err.id, code, message: err.message, host: this.options.name, layer: err.layer, expert: err.expert };
      this.send(peer, reply).catch(() => undefined); // counted in send()
    }
  }

  /**
   * Receive validated messages until the server is closed. One consumer at a
   * time; invalid and expired frames are counted and skipped.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Incoming, void, undefined> {
    if (this.consuming) throw new TransportConfigError("an RpcServer has one consumer at a time", { fix: "use one loop (or serve()) per server" });
    this.consuming = true;
    try {
      for await (const frames of this.socket) {
        const incoming = this.accept(frames);
        if (incoming !== undefined) yield incoming;
      }
    } finally {
      this.consuming = false;
    }
  }

  /**
   * Answer requests with `handler` until the server is closed. Replies carry
   * the request's id; a handler that throws answers with an `error` message.
   * Reads the socket directly (not through the async iterator): a message costs
   * no generator hop between its receipt and its handler.
   * @param options.concurrency most handlers running at once (default 64)
   */
  async serve(handler: Handler, options: { concurrency?: number } = {}): Promise<void> {
    if (this.consuming) throw new TransportConfigError("an RpcServer has one consumer at a time", { fix: "use one loop (or serve()) per server" });
    this.consuming = true;
    const limit = options.concurrency ?? 64;
    let running = 0;
    let room: (() => void) | undefined;
    const done = (): void => {
      running--;
      if (room !== undefined) {
        const wake = room;
        room = undefined;
        wake();
      }
    };
    try {
      for await (const frames of this.socket) {
        const request = this.accept(frames);
        if (request === undefined) continue;
        running++;
        this.handle(handler, request).then(done, done);
        if (running >= limit) await new Promise<void>((resolve) => (room = resolve));
      }
      while (running > 0) await new Promise<void>((resolve) => (room = resolve));
    } finally {
      this.consuming = false;
    }
  }

  private async handle(handler: Handler, request: Incoming): Promise<void> {
    let reply: Message | undefined | void;
    try {
      reply = await handler(request);
    } catch (err) {
      const e = err as { code?: unknown; remoteCode?: unknown; message?: unknown; layer?: unknown; expert?: unknown; host?: unknown };
      // an error relayed from a downstream peer keeps its original code and host (e.g. EXPERT_UNAVAILABLE through every stage)
      const raw = typeof e?.remoteCode === "string" ? e.remoteCode : e?.code;
      const code = typeof raw === "string" && /^[A-Za-z0-9_.:-]{1,64}$/.test(raw) ? raw : "HANDLER_ERROR";
      this.metrics.error(request.peerLabel, code);
      const host = typeof e?.remoteCode === "string" && typeof e?.host === "string" ? e.host : this.options.name;
      reply = { kind: "error", code, message: String(e?.message ?? err).slice(0, 1024), host };
      if (typeof e?.layer === "number") reply.layer = e.layer;
      if (typeof e?.expert === "number") reply.expert = e.expert;
    }
    if (reply === undefined) return;
    await this.reply(request, reply).catch((err: unknown) => {
      this.options.logger?.warn({ peer: request.peerLabel, err: (err as Error).message }, "could not send a reply");
    });
  }

  /**
   * Send `message` as the answer to `request`: same id, latency recorded.
   * @throws PeerUnreachableError when the requester has gone; PeerBusyError when its queue is full
   */
  async reply(request: Incoming, message: Message): Promise<void> {
    const m = this.options.name !== undefined && message.sender === undefined ? { ...message, id: request.message.id, sender: this.options.name } : { ...message, id: request.message.id };
    await this.sendFrame(request.peer, request.peerLabel, m);
    this.metrics.latency(request.peerLabel, performance.now() - request.receivedAt);
  }

  /**
   * Send one message to a connected peer.
   * @param peer ROUTER routing id (from {@link Incoming.peer})
   * @throws PeerUnreachableError (EHOSTUNREACH: not connected), PeerBusyError (queue full),
   *   SocketClosedError, EncodeError
   */
  send(peer: Uint8Array, message: Message): Promise<void> {
    return this.sendFrame(peer, peerLabel(peer), this.options.name !== undefined && message.sender === undefined ? { ...message, sender: this.options.name } : message);
  }

  /** Encode and send `message` (its sender already set) to `peer`, whose label is `label`. */
  private async sendFrame(peer: Uint8Array, label: string, message: Message): Promise<void> {
    const frame = encode(message);
    try {
      await this.sendQueue.send(this.socket, [peer, frame]);
    } catch (err) {
      const e = mapSendError(err, { peer: label, kind: message.kind, id: message.id });
      this.metrics.error(label, e.code);
      throw e;
    }
    this.metrics.sent(label, frame.byteLength);
  }

  /** True once {@link close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Close the socket (linger 0), remove its ipc socket file, withdraw from the ZAP handler. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    // libzmq leaves the socket file of an ipc endpoint behind (abstract `ipc://@name` has none)
    if (this.endpoint.startsWith("ipc://") && !this.endpoint.startsWith("ipc://@")) {
      rmSync(this.endpoint.slice("ipc://".length), { force: true });
    }
    await this.zap?.release();
  }
}
