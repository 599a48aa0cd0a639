/**
 * A small delaying TCP proxy: every byte that crosses it, either way, arrives `delayMs` later (order kept),
 * so that a link has latency as well as the htb rate of netns.ts (`tc netem` does not exist here). Tests
 * put it between a namespace's hosts and the NATS server they join, so control messages and the weights
 * they fetch cross a link with a real round-trip time.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

/** A running proxy. */
export interface DelayProxy {
  /** Address and port it listens on. */
  readonly host: string;
  readonly port: number;
  /** Bytes forwarded: towards the target, and back. */
  readonly bytes: { up: number; down: number };
  close(): Promise<void>;
}

/** Buffered bytes above which the sender is paused until the receiver drains. */
const HIGH_WATER = 4 << 20;

/** Forward `a` → `b`, each chunk `delayMs` later; `count` adds the bytes. */
function pipeDelayed(a: Socket, b: Socket, delayMs: number, count: (n: number) => void): void {
  let inFlight = 0;
  a.on("data", (d: Buffer) => {
    inFlight += d.length;
    if (inFlight > HIGH_WATER) a.pause();
    setTimeout(() => {
      inFlight -= d.length;
      count(d.length);
      if (!b.destroyed && !b.write(d)) a.pause();
      if (inFlight <= HIGH_WATER && b.writableLength < HIGH_WATER) a.resume();
    }, delayMs);
  });
  b.on("drain", () => inFlight <= HIGH_WATER && a.resume());
  a.on("end", () => setTimeout(() => b.end(), delayMs));
  a.on("error", () => b.destroy());
  a.on("close", () => setTimeout(() => b.destroy(), delayMs + 1));
}

/** Listen on `host` (a free port) and forward every connection to `target`, `delayMs` late each way. */
export async function startDelayProxy(o: { host: string; target: { host: string; port: number }; delayMs: number }): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const bytes = { up: 0, down: 0 };
  const server: Server = createServer((client) => {
    const upstream = connect(o.target.port, o.target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once("close", () => sockets.delete(s));
    }
    pipeDelayed(client, upstream, o.delayMs, (n) => (bytes.up += n));
    pipeDelayed(upstream, client, o.delayMs, (n) => (bytes.down += n));
  });
  await new Promise<void>((res, rej) => server.once("error", rej).listen(0, o.host, () => res()));
  const port = (server.address() as { port: number }).port;
  return {
    host: o.host,
    port,
    bytes,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}
