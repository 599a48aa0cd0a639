/**
 * A router as a process of its own (DESIGN §2): serves `router.request`
 * (a stage's pre-MoE rows of one layer) with its {@link RouterCore} and
 * answers `router.response` (the combined MoE rows). The messages are the
 * same whether the router sits beside its stage or on another host.
 */
import type { Logger } from "pino";
import { RpcServer, deadlineOr, type CurveServerOptions, type Incoming, type Message, type WireDtype } from "../transport/index.js";
import type { RouterCore } from "./core.js";

/** Options of a router service. */
export interface RouterServiceOptions {
  readonly name: string;
  /** Where to bind, e.g. `tcp://10.0.0.5:7400`. */
  readonly endpoint: string;
  readonly core: RouterCore;
  readonly dModel: number;
  /** Wire dtype of responses. */
  readonly wireDtype?: WireDtype;
  readonly curve?: CurveServerOptions;
  readonly logger?: Logger;
}

export class RouterService {
  private readonly serving: Promise<void>;
  private closed = false;

  private constructor(
    private readonly opts: RouterServiceOptions,
    readonly server: RpcServer,
  ) {
    this.serving = server.serve((req) => this.handle(req), { concurrency: 256 });
  }

  /** Bind and start serving. */
  static async start(opts: RouterServiceOptions): Promise<RouterService> {
    const server = await RpcServer.bind({ endpoint: opts.endpoint, name: opts.name, expect: { dModel: opts.dModel, kinds: ["router.request", "ping"] }, curve: opts.curve, logger: opts.logger });
    return new RouterService(opts, server);
  }

  get endpoint(): string {
    return this.server.endpoint;
  }

  private async handle(req: Incoming): Promise<Message | undefined> {
    const m = req.message;
    if (m.kind === "ping") return { kind: "pong" };
    if (m.kind !== "router.request") return undefined;
    const deadline = deadlineOr(m.deadline);
    const y = await this.opts.core.moe(m.layer, m.hidden, m.seq, m.pos, deadline);
    return { kind: "router.response", layer: m.layer, row: m.row, seq: m.seq, pos: m.pos, hidden: y, dModel: this.opts.dModel, wireDtype: this.opts.wireDtype ?? "f32" };
  }

  /** Stop serving; safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.server.close();
    await this.serving.catch(() => undefined);
  }
}
