/**
 * {@link ExpertTransport} over ZeroMQ: one DEALER ({@link RpcClient}) per
 * expert host; one `moe.dispatch` per host per layer carries the rows of
 * every expert of that layer it serves (an `expert` column), answered by one
 * `moe.result`; many dispatches in flight at once.
 */
import type { Logger } from "pino";
import { RpcClient, msUntil, type CurveClientOptions, type WireDtype } from "../transport/index.js";
import type { DispatchPart, ExpertTransport } from "./core.js";

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
    for (const [host, endpoint] of opts.hosts) this.clients.set(host, this.connect(endpoint));
  }

  private connect(endpoint: string): RpcClient {
    const o = this.opts;
    return RpcClient.connect({
      endpoint,
      name: o.name,
      expect: { dModel: o.dModel, kinds: ["moe.result", "error", "pong"] },
      curve: o.curve,
      logger: o.logger,
      heartbeatIntervalMs: 500,
      heartbeatTimeoutMs: 2000,
    });
  }

  /**
   * Connect to the hosts of a new placement: hosts not known yet (or now at another endpoint) get a new
   * DEALER, hosts no longer listed are closed (their pending requests reject), hosts kept keep their socket.
   */
  async setHosts(hosts: ReadonlyMap<string, string>): Promise<void> {
    const gone: RpcClient[] = [];
    for (const [host, endpoint] of hosts) {
      const c = this.clients.get(host);
      if (c && c.endpoint === endpoint) continue;
      if (c) gone.push(c);
      this.clients.set(host, this.connect(endpoint));
    }
    for (const [host, c] of [...this.clients]) if (!hosts.has(host)) gone.push(c), this.clients.delete(host);
    await Promise.all(gone.map((c) => c.close()));
  }

  async call(host: string, layer: number, parts: readonly DispatchPart[], deadline: number): Promise<Float32Array[]> {
    const client = this.clients.get(host);
    if (!client) throw new Error(`no endpoint known for expert host '${host}'`);
    const D = this.opts.dModel;
    const n = parts.reduce((a, p) => a + p.rows.row.length, 0);
    const row = new Uint32Array(n);
    const seq = new Uint32Array(n);
    const pos = new Uint32Array(n);
    const expert = new Uint32Array(n);
    const hidden = parts.length === 1 ? parts[0]!.rows.hidden : new Float32Array(n * D);
    let r = 0;
    for (const p of parts) {
      const k = p.rows.row.length;
      row.set(p.rows.row, r);
      seq.set(p.rows.seq, r);
      pos.set(p.rows.pos, r);
      expert.fill(p.expert, r, r + k);
      if (hidden !== p.rows.hidden) hidden.set(p.rows.hidden, r * D);
      r += k;
    }
    const reply = await client.request(
      { kind: "moe.dispatch", layer, row, seq, pos, expert, hidden, dModel: D, wireDtype: this.opts.wireDtype ?? "f32" },
      { deadlineMs: msUntil(deadline) },
    );
    if (reply.layer !== layer || reply.row.length !== n || reply.expert.some((e, i) => e !== expert[i]))
      throw new Error(`host ${host} answered (layer ${reply.layer}, ${reply.row.length} rows) to a dispatch of (layer ${layer}, ${n} rows of experts ${parts.map((p) => p.expert).join(",")})`);
    const out: Float32Array[] = [];
    r = 0;
    for (const p of parts) {
      const k = p.rows.row.length;
      out.push(reply.hidden.subarray(r * D, (r + k) * D));
      r += k;
    }
    return out;
  }

  /** Transport counters per expert host. */
  metrics(): Record<string, unknown> {
    return Object.fromEntries([...this.clients].map(([h, c]) => [h, c.metrics.snapshot()]));
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}
