/**
 * The control endpoint of every cluster process: a ZeroMQ ROUTER that
 * answers `status.request` with a typed `status` message (control/status-wire.ts)
 * and `ping` with `pong`. `moe status`, the launcher and the gateway poll it
 * for liveness, KV sequences, busy time, wire counters and the router's
 * expert load (every layer it routes, one row per (layer, expert)). The
 * data-plane sockets stay untouched: this is a separate port.
 */
import type { Logger } from "pino";
import { RpcClient, RpcServer, type CurveClientOptions, type CurveServerOptions } from "../transport/index.js";
import type { ProcessRole } from "./runtime.js";
import { decodeStatus, encodeStatus, type StatusContext } from "./status-wire.js";

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
  /** Sequences reclaimed after sitting idle past the timeout. */
  readonly reclaimed?: number;
  /** Steps that failed on this stage. */
  readonly failures?: number;
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
  /**
   * Experts whose weights the host's sessions hold, and those weights' bytes as stored (f32 values or Q8_0
   * blocks): equal to `experts` and their bytes, except while a re-plan's unload rebuilds a layer session
   * (or where that failed). Absent from hosts older than this field.
   */
  readonly residentExperts?: number;
  readonly residentWeightBytes?: number;
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
  /** Current status (with the router's expert load, where it runs). */
  readonly status: () => ProcessStatus;
  /** Expert host names, sorted (status rows name hosts by index). */
  readonly expertHosts: readonly string[];
  readonly curve?: CurveServerOptions;
  readonly logger?: Logger;
}

/** A process's control endpoint. */
export class ControlServer {
  private readonly serving: Promise<void>;

  private constructor(private readonly server: RpcServer, opts: ControlServerOptions) {
    this.serving = server.serve((req) => {
      if (req.message.kind === "ping") return { kind: "pong" };
      if (req.message.kind !== "status.request") return undefined;
      return encodeStatus(opts.status(), opts);
    });
  }

  /** Bind and start answering pings. */
  static async bind(opts: ControlServerOptions): Promise<ControlServer> {
    const server = await RpcServer.bind({ endpoint: opts.endpoint, name: opts.name, expect: { dModel: 1, kinds: ["ping", "status.request"] }, curve: opts.curve, logger: opts.logger });
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

  constructor(
    readonly endpoint: string,
    private readonly ctx: StatusContext,
    opts: { curve?: CurveClientOptions; name?: string; logger?: Logger } = {},
  ) {
    this.client = RpcClient.connect({
      endpoint,
      name: opts.name ?? "moe-control",
      expect: { dModel: 1, kinds: ["status", "error"] },
      curve: opts.curve,
      logger: opts.logger,
      heartbeatIntervalMs: 0,
    });
  }

  /** Ask for the process's status with a deadline; never throws. */
  async ping(timeoutMs: number): Promise<PingResult> {
    const t0 = performance.now();
    try {
      const reply = await this.client.request({ kind: "status.request" }, { deadlineMs: timeoutMs });
      return { up: true, rttMs: performance.now() - t0, status: decodeStatus(reply, this.ctx) };
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
export async function pingOnce(endpoint: string, ctx: StatusContext, timeoutMs: number, curve?: CurveClientOptions): Promise<PingResult> {
  const c = new ControlClient(endpoint, ctx, { curve });
  try {
    return await c.ping(timeoutMs);
  } finally {
    await c.close();
  }
}
