/**
 * A ZAP handler (ZeroMQ RFC 27) that accepts CURVE clients only when their
 * public key is authorized for the server's ZAP domain.
 *
 * libzmq asks the handler bound at `inproc://zeromq.zap.01` of the server
 * socket's context about every CURVE handshake. Only one handler can be bound
 * per context, so this file keeps one per context, shared by every server in
 * the process and reference-counted: each server registers its domain and
 * its authorized keys, and releases them on close.
 */
import * as zmq from "zeromq";
import { z85Encode } from "./curve.js";
import { CurveConfigError } from "./errors.js";

/** The fixed ZAP endpoint of RFC 27. */
export const ZAP_ENDPOINT = "inproc://zeromq.zap.01";

/**
 * How long the handler outlives its last server, ms: libzmq must finish tearing
 * down that server's sessions (which hold pipes to the handler) first.
 */
export const ZAP_LINGER_MS = 250;

/** Counts of ZAP decisions. */
export interface ZapStats {
  accepted: number;
  denied: number;
}

class ZapHandler {
  /** domain → one authorized-key set per registration */
  readonly domains = new Map<string, Set<string>[]>();
  readonly stats: ZapStats = { accepted: 0, denied: 0 };
  /** Pending close after the last registration left (see {@link ZAP_LINGER_MS}). */
  closeTimer: NodeJS.Timeout | undefined;
  private readonly socket: zmq.Reply;
  private done: Promise<void> = Promise.resolve();
  /** Resolves once the handler is bound (and loops); rejects when the endpoint is taken. */
  readonly ready: Promise<void>;

  constructor(context: zmq.Context) {
    this.socket = new zmq.Reply({ context, linger: 0 });
    this.ready = this.bind().then(() => {
      this.done = this.loop();
    });
  }

  /** Bind, retrying for a while: a handler closed just before may still hold the inproc name. */
  private async bind(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.socket.bind(ZAP_ENDPOINT);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== "EADDRINUSE" || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  private authorize(domain: string, mechanism: string, credentials: Buffer[]): boolean {
    if (mechanism !== "CURVE" || credentials.length !== 1 || credentials[0].length !== 32) return false;
    const key = z85Encode(new Uint8Array(credentials[0]));
    return (this.domains.get(domain) ?? []).some((keys) => keys.has(key));
  }

  private async loop(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        const [version, requestId, domain, , , mechanism, ...credentials] = frames;
        const ok = version?.toString() === "1.0" && this.authorize(domain?.toString() ?? "", mechanism?.toString() ?? "", credentials);
        if (ok) this.stats.accepted++;
        else this.stats.denied++;
        const status = version?.toString() !== "1.0" ? "500" : ok ? "200" : "400";
        await this.socket.send(["1.0", requestId ?? "", status, ok ? "OK" : "not an authorized cluster client", "", ""]);
      }
    } catch {
      // the socket was closed while a reply was pending: nothing left to answer
    }
  }

  async close(): Promise<void> {
    await this.ready.then(() => this.socket.unbind(ZAP_ENDPOINT)).catch(() => undefined);
    this.socket.close();
    await this.ready.catch(() => undefined);
    await this.done;
  }
}

const handlers = new Map<zmq.Context, ZapHandler>();

/** A registration of one server with the context's ZAP handler. */
export interface ZapRegistration {
  /** Decisions of the shared handler of this context so far. */
  stats(): ZapStats;
  /** Withdraw this server's keys; the handler stops {@link ZAP_LINGER_MS} after the last one leaves. */
  release(): Promise<void>;
}

/**
 * Authorize `publicKeys` (Z85) for CURVE clients of `domain` in `context`,
 * starting the context's ZAP handler if needed. Await it before the server binds.
 * @throws CurveConfigError when another ZAP handler holds the endpoint
 */
export async function registerZap(context: zmq.Context, domain: string, publicKeys: readonly string[]): Promise<ZapRegistration> {
  let handler = handlers.get(context);
  if (handler === undefined) {
    handler = new ZapHandler(context);
    handlers.set(context, handler);
  }
  const h = handler;
  if (h.closeTimer !== undefined) {
    clearTimeout(h.closeTimer); // a server came back within the linger: keep the handler
    h.closeTimer = undefined;
  }
  const keys = new Set(publicKeys);
  const list = h.domains.get(domain) ?? [];
  list.push(keys);
  h.domains.set(domain, list);
  let released = false;
  const registration: ZapRegistration = {
    stats: () => ({ ...h.stats }),
    release: async () => {
      if (released) return;
      released = true;
      const remaining = (h.domains.get(domain) ?? []).filter((k) => k !== keys);
      if (remaining.length > 0) h.domains.set(domain, remaining);
      else h.domains.delete(domain);
      if (h.domains.size > 0 || handlers.get(context) !== h) return;
      // Close later, not now: libzmq tears down the closed server's sessions (each may hold a
      // pipe to this handler) in its I/O threads, and closing the handler while that happens
      // trips a libzmq assertion (pipe.cpp:355, socket_base.cpp:2140). Unknown keys stay denied.
      h.closeTimer = setTimeout(() => {
        h.closeTimer = undefined;
        if (handlers.get(context) === h && h.domains.size === 0) {
          handlers.delete(context);
          void h.close();
        }
      }, ZAP_LINGER_MS);
    },
  };
  try {
    await h.ready;
  } catch (cause) {
    if (handlers.get(context) === h) handlers.delete(context);
    await h.close();
    throw new CurveConfigError(`cannot bind the ZAP handler at ${ZAP_ENDPOINT}: ${(cause as Error).message}`, {
      cause,
      fix: "another ZAP handler is bound in this ZeroMQ context; let transport/ own authentication",
    });
  }
  return registration;
}
