/**
 * {@link MoeRouter} over ZeroMQ: a stage whose router runs in another process
 * sends `router.request` and gets the combined rows back in `router.response`.
 */
import type { Logger } from "pino";
import { RpcClient, msUntil, type CurveClientOptions, type WireDtype } from "../transport/index.js";
import type { MoeRouter } from "./core-types.js";

export interface RemoteRouterOptions {
  /** The router process's endpoint. */
  readonly endpoint: string;
  readonly dModel: number;
  /** Sender name (the stage). */
  readonly name: string;
  readonly wireDtype?: WireDtype;
  readonly curve?: CurveClientOptions;
  readonly logger?: Logger;
}

export class RemoteRouter implements MoeRouter {
  private readonly client: RpcClient;

  constructor(private readonly opts: RemoteRouterOptions) {
    this.client = RpcClient.connect({ endpoint: opts.endpoint, name: opts.name, expect: { dModel: opts.dModel, kinds: ["router.response", "error", "pong"] }, curve: opts.curve, logger: opts.logger });
  }

  async moe(layer: number, m: Float32Array, seq: Uint32Array, pos: Uint32Array, deadline: number): Promise<Float32Array> {
    const reply = await this.client.request(
      { kind: "router.request", layer, row: Uint32Array.from(seq, (_, i) => i), seq, pos, hidden: m, dModel: this.opts.dModel, wireDtype: this.opts.wireDtype ?? "f32" },
      { deadlineMs: msUntil(deadline) },
    );
    if (reply.layer !== layer || reply.row.length !== seq.length)
      throw new Error(`router ${this.opts.endpoint} answered (layer ${reply.layer}, ${reply.row.length} rows) to a request of (layer ${layer}, ${seq.length} rows)`);
    return reply.hidden;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
