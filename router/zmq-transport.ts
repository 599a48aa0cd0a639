/**
 * {@link ExpertTransport} over ZeroMQ: one DEALER ({@link RpcClient}) per
 * expert host, `moe.dispatch` → `moe.result`, many dispatches in flight at once.
 */
import type { Logger } from "pino";
import { RpcClient, type CurveClientOptions, type WireDtype } from "../transport/index.js";
import type { DispatchRows, ExpertTransport } from "./core.js";

/** Options of the ZeroMQ expert transport. */
export interface ZmqExpertTransportOptions {
  /** Expert host name → its endpoint. */
  readonly hosts: ReadonlyMap<string, string>;
  readonly dModel: number;
  /** Name of this router (sender field, routing id). */
  readonly name: string;
  readonly wireDtype?: WireDtype;
  readonly curve?: CurveClientOptions;
  readonly logger?: Logger;
}

export class ZmqExpertTransport implements ExpertTransport {
  private readonly clients = new Map<string, RpcClient>();

  constructor(private readonly opts: ZmqExpertTransportOptions) {
    for (const [host, endpoint] of opts.hosts)
      this.clients.set(
        host,
        RpcClient.connect({
          endpoint,
          name: opts.name,
          expect: { dModel: opts.dModel, kinds: ["moe.result", "error", "pong"] },
          curve: opts.curve,
          logger: opts.logger,
          heartbeatIntervalMs: 500,
          heartbeatTimeoutMs: 2000,
        }),
      );
  }

  async call(host: string, layer: number, expert: number, rows: DispatchRows, deadline: number): Promise<Float32Array> {
    const client = this.clients.get(host);
    if (!client) throw new Error(`no endpoint known for expert host '${host}'`);
    const reply = await client.request(
      { kind: "moe.dispatch", layer, expert, row: rows.row, seq: rows.seq, pos: rows.pos, hidden: rows.hidden, dModel: this.opts.dModel, wireDtype: this.opts.wireDtype ?? "f32" },
      { deadlineMs: Math.max(1, deadline - Date.now()) },
    );
    if (reply.layer !== layer || reply.expert !== expert || reply.row.length !== rows.row.length)
      throw new Error(`host ${host} answered (layer ${reply.layer}, expert ${reply.expert}, ${reply.row.length} rows) to a dispatch of (layer ${layer}, expert ${expert}, ${rows.row.length} rows)`);
    return reply.hidden;
  }

  /** Transport counters per expert host. */
  metrics(): Record<string, unknown> {
    return Object.fromEntries([...this.clients].map(([h, c]) => [h, c.metrics.snapshot()]));
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}
