/**
 * The raw ZeroMQ baseline of `moe bench cluster`: a bare ROUTER that echoes
 * every frame with a reply of the size the frame asks for, and a bare DEALER
 * client that replays a layer's dispatch/result traffic (the same number of
 * frames, the same sizes, to the same number of hosts) and waits for every
 * reply. No codec, no validation, no request table: what ZeroMQ and the
 * event loop cost for these bytes, measured in the same run as the cluster.
 *
 * A request frame carries the size of its reply, bytes, as a little-endian
 * uint32 in its first four bytes (the rest of the frame is the real
 * dispatch's bytes).
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import * as zmq from "zeromq";
import { firstMessage, forkBenchChild } from "./child.js";

/** Largest reply an echo server sends, bytes. */
export const MAX_REPLY_BYTES = 16 << 20;

/** A bare ROUTER echo on `tcp://127.0.0.1:<ephemeral>`. */
export class EchoServer {
  private readonly reply = Buffer.alloc(MAX_REPLY_BYTES, 0x5a);
  private readonly loop: Promise<void>;

  private constructor(
    private readonly socket: zmq.Router,
    /** The bound address. */
    readonly endpoint: string,
  ) {
    this.loop = this.serve();
  }

  static async bind(): Promise<EchoServer> {
    const socket = new zmq.Router({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    await socket.bind("tcp://127.0.0.1:0");
    return new EchoServer(socket, socket.lastEndpoint!);
  }

  private async serve(): Promise<void> {
    try {
      for await (const [peer, frame] of this.socket) {
        const n = Math.min(MAX_REPLY_BYTES, frame!.readUInt32LE(0));
        await this.socket.send([peer!, this.reply.subarray(0, n)]);
      }
    } catch {
      // closed
    }
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.loop;
  }
}

/** One frame of a replayed layer call: to which echo host, the request bytes, the reply size. */
export interface EchoFrame {
  /** Index of the host (one echo server per expert host). */
  readonly host: number;
  /** The request frame (its first 4 bytes are overwritten with `replyBytes`). */
  readonly frame: Uint8Array;
  /** Size of the reply, bytes. */
  readonly replyBytes: number;
}

/** DEALERs to a set of echo servers; {@link EchoClient.call} replays one layer call. */
export class EchoClient {
  private constructor(private readonly dealers: zmq.Dealer[]) {}

  static connect(endpoints: readonly string[]): EchoClient {
    return new EchoClient(
      endpoints.map((e) => {
        const d = new zmq.Dealer({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
        d.connect(e);
        return d;
      }),
    );
  }

  /** Copies of `frames` ready to send (reply sizes written in). */
  static prepare(frames: readonly EchoFrame[]): EchoFrame[] {
    return frames.map((f) => {
      const b = Buffer.from(f.frame);
      b.writeUInt32LE(f.replyBytes, 0);
      return { ...f, frame: b };
    });
  }

  /**
   * Send every frame (in order), wait for every reply; resolves with the milliseconds taken.
   * @throws when a reply does not have the size its request asked for
   */
  async call(frames: readonly EchoFrame[]): Promise<number> {
    const t0 = performance.now();
    const want: number[][] = this.dealers.map(() => []);
    for (const f of frames) want[f.host]!.push(f.replyBytes);
    const replies = Promise.all(
      want.map(async (sizes, h) => {
        for (const n of sizes) {
          const [reply] = await this.dealers[h]!.receive();
          if (reply!.length !== n) throw new Error(`echo host ${h} replied ${reply!.length} bytes, expected ${n}`);
        }
      }),
    );
    for (const f of frames) await this.dealers[f.host]!.send(f.frame);
    await replies;
    return performance.now() - t0;
  }

  close(): void {
    for (const d of this.dealers) d.close();
  }
}

/** Echo servers in child `node` processes (one process each). */
export class EchoChildren {
  private constructor(
    private readonly children: ChildProcess[],
    readonly endpoints: readonly string[],
  ) {}

  static async start(n: number): Promise<EchoChildren> {
    const children: ChildProcess[] = [];
    try {
      const endpoints: string[] = [];
      for (let i = 0; i < n; i++) {
        const c = forkBenchChild("echo-child");
        children.push(c);
        endpoints.push((await firstMessage<{ endpoint: string }>(c, "an echo child")).endpoint);
      }
      return new EchoChildren(children, endpoints);
    } catch (e) {
      for (const c of children) c.kill();
      throw e;
    }
  }

  /** Process ids of the children. */
  get pids(): number[] {
    return this.children.map((c) => c.pid!);
  }

  /** Ask every child to close its socket and exit; waits for the exits. */
  async close(): Promise<void> {
    await Promise.all(
      this.children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = once(c, "exit");
        c.send("close");
        const timer = setTimeout(() => c.kill(), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
