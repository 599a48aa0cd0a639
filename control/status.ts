/**
 * The control endpoint of every cluster process: a ZeroMQ ROUTER that
 * answers `ping` with `pong`, the process's status in the header's `extra`
 * (JSON, ≤ 4 KiB). `moe status`, the launcher and the gateway poll it for
 * liveness, KV sequences, busy time, wire counters and the router's expert
 * load. The data-plane sockets stay untouched: this is a separate port.
 *
 * Expert load is paged: a ping whose `extra` is `{"load": [first, end]}` gets
 * the router's token counts of layers [first, end) back, so that big models
 * stay under the header limit.
 */
import type { Logger } from "pino";
import { RpcClient, RpcServer, type CurveClientOptions, type CurveServerOptions } from "../transport/index.js";
import type { ProcessRole } from "./runtime.js";

/** Counters of a stage process (router included). */
export interface StageStatus {
  readonly index: number;
  readonly layers: readonly [number, number];
  /** Sequences holding KV caches here. */
  readonly live: number;
  /** Seconds spent computing steps since start. */
  readonly busySeconds: number;
  readonly requests: number;
  readonly rows: number;
  /** Rows dispatched to expert hosts and not yet answered. */
  readonly inflightRows: number;
  /** Expert hosts the router currently avoids (recent failures). */
  readonly downHosts: readonly string[];
}

/** Router → expert hosts wire totals (all hosts together). */
export interface WireStatus {
  /** Dispatch frames sent. */
  readonly messagesOut: number;
  readonly bytesOut: number;
  readonly bytesIn: number;
  /** Failed dispatches (deadline, remote error, ...). */
  readonly errors: number;
  /** Dispatch round trip, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly count: number;
}

/** Counters of an expert process. */
export interface ExpertStatus {
  /** (layer, expert) pairs held. */
  readonly experts: number;
  /** onnxruntime runs / dispatches served / rows computed. */
  readonly runs: number;
  readonly requests: number;
  readonly rows: number;
}

/** What a process reports on its control endpoint. */
export interface ProcessStatus {
  readonly name: string;
  readonly host: string;
  readonly role: ProcessRole;
  readonly pid: number;
  readonly uptimeSeconds: number;
  /** Resident set size, bytes. */
  readonly rssBytes: number;
  readonly stage?: StageStatus;
  readonly wire?: WireStatus;
  readonly expert?: ExpertStatus;
  readonly gateway?: { readonly url: string };
  /** A router process: the stage it serves. */
  readonly router?: { readonly index: number; readonly layers: readonly [number, number] };
  /** Router token counts of layers [first, first + counts.length), when asked for. */
  readonly load?: { readonly first: number; readonly counts: number[][] };
}

/** Options of {@link ControlServer.bind}. */
export interface ControlServerOptions {
  readonly endpoint: string;
  readonly name: string;
  /** Current status; `load` = layer range asked for, if any. */
  readonly status: (load?: readonly [number, number]) => ProcessStatus;
  readonly curve?: CurveServerOptions;
  readonly logger?: Logger;
}

/** A process's control endpoint. */
export class ControlServer {
  private readonly serving: Promise<void>;

  private constructor(private readonly server: RpcServer, opts: ControlServerOptions) {
    this.serving = server.serve((req) => {
      if (req.message.kind !== "ping") return undefined;
      const ask = req.message.extra?.load;
      const range = Array.isArray(ask) && ask.length === 2 && ask.every((v) => Number.isInteger(v) && v >= 0) ? ([ask[0], ask[1]] as const) : undefined;
      return { kind: "pong", extra: opts.status(range) as unknown as Record<string, unknown> };
    });
  }

  /** Bind and start answering pings. */
  static async bind(opts: ControlServerOptions): Promise<ControlServer> {
    const server = await RpcServer.bind({ endpoint: opts.endpoint, name: opts.name, expect: { dModel: 1, kinds: ["ping"] }, curve: opts.curve, logger: opts.logger });
    return new ControlServer(server, opts);
  }

  /** The bound address. */
  get endpoint(): string {
    return this.server.endpoint;
  }

  async close(): Promise<void> {
    await this.server.close();
    await this.serving.catch(() => undefined);
  }
}

/** Result of one ping of a control endpoint. */
export interface PingResult {
  readonly up: boolean;
  /** Round trip, ms (when up). */
  readonly rttMs?: number;
  readonly status?: ProcessStatus;
  /** Why it is down. */
  readonly error?: string;
}

/** A DEALER to one control endpoint. */
export class ControlClient {
  private readonly client: RpcClient;

  constructor(readonly endpoint: string, opts: { curve?: CurveClientOptions; name?: string; logger?: Logger } = {}) {
    this.client = RpcClient.connect({
      endpoint,
      name: opts.name ?? "moe-control",
      expect: { dModel: 1, kinds: ["pong", "error"] },
      curve: opts.curve,
      logger: opts.logger,
      heartbeatIntervalMs: 0,
    });
  }

  /** Ping with a deadline; never throws. `load` asks for the router's counts of layers [first, end). */
  async ping(timeoutMs: number, load?: readonly [number, number]): Promise<PingResult> {
    const t0 = performance.now();
    try {
      const reply = await this.client.request({ kind: "ping", ...(load ? { extra: { load: [load[0], load[1]] } } : {}) }, { deadlineMs: timeoutMs });
      return { up: true, rttMs: performance.now() - t0, status: reply.extra as unknown as ProcessStatus | undefined };
    } catch (e) {
      const code = (e as { code?: string }).code;
      return { up: false, error: code === "DEADLINE_EXCEEDED" ? `no answer from ${this.endpoint} within ${timeoutMs} ms` : (e as Error).message };
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Ping one control endpoint once (opens and closes a socket). */
export async function pingOnce(endpoint: string, timeoutMs: number, curve?: CurveClientOptions): Promise<PingResult> {
  const c = new ControlClient(endpoint, { curve });
  try {
    return await c.ping(timeoutMs);
  } finally {
    await c.close();
  }
}
