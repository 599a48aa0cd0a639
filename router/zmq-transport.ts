/**
 * {@link ExpertTransport} over ZeroMQ: one DEALER ({@link RpcClient}) per
 * expert host; one `moe.dispatch` per host per layer carries the rows of
 * every expert of that layer it serves (an `expert` column), answered by one
 * `moe.result`; many dispatches in flight at once.
 */
import type { Logger } from "pino";
import { RpcClient, msUntil, type CurveClientOptions, type WireDtype } from "../transport/index.js";
import type { DispatchPart, ExpertTransport } from "./core-types.js";

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
    const expert = new Uint32Array(n);
    let r = 0;
    for (const p of parts) {
      expert.fill(p.expert, r, r + p.rows.row.length);
      r += p.rows.row.length;
    }
    // RouterCore gathers a host's rows into one buffer, its parts views of it in order: send that as is
    const { row, seq, pos, hidden } = contiguous(parts, n, D) ?? concat(parts, n, D);
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

type Columns = { row: Uint32Array; seq: Uint32Array; pos: Uint32Array; hidden: Float32Array };

/** The parts' columns as single views when each part's arrays follow the previous part's in one buffer; else undefined. */
function contiguous(parts: readonly DispatchPart[], n: number, D: number): Columns | undefined {
  const f = parts[0]!.rows;
  if (parts.length === 1) return f;
  let r = 0;
  for (const p of parts) {
    const x = p.rows;
    if (x.row.buffer !== f.row.buffer || x.row.byteOffset !== f.row.byteOffset + 4 * r) return undefined;
    if (x.seq.buffer !== f.seq.buffer || x.seq.byteOffset !== f.seq.byteOffset + 4 * r) return undefined;
    if (x.pos.buffer !== f.pos.buffer || x.pos.byteOffset !== f.pos.byteOffset + 4 * r) return undefined;
    if (x.hidden.buffer !== f.hidden.buffer || x.hidden.byteOffset !== f.hidden.byteOffset + 4 * r * D) return undefined;
    r += x.row.length;
  }
  const view = <T extends Uint32Array | Float32Array>(a: T, ctor: new (b: ArrayBufferLike, o: number, l: number) => T, len: number): T => new ctor(a.buffer, a.byteOffset, len);
  return { row: view(f.row, Uint32Array, n), seq: view(f.seq, Uint32Array, n), pos: view(f.pos, Uint32Array, n), hidden: view(f.hidden, Float32Array, n * D) };
}

/** The parts' columns copied into one array each. */
function concat(parts: readonly DispatchPart[], n: number, D: number): Columns {
  const out: Columns = { row: new Uint32Array(n), seq: new Uint32Array(n), pos: new Uint32Array(n), hidden: new Float32Array(n * D) };
  let r = 0;
  for (const p of parts) {
    out.row.set(p.rows.row, r);
    out.seq.set(p.rows.seq, r);
    out.pos.set(p.rows.pos, r);
    out.hidden.set(p.rows.hidden, r * D);
    r += p.rows.row.length;
  }
  return out;
}
