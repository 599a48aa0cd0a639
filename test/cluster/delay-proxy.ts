/**
 * A small delaying TCP proxy: every byte that crosses it, either way, arrives `delayMs` later (order kept),
 * so that a link has latency as well as the htb rate of netns.ts (`tc netem` does not exist here). Tests
 * put it between a namespace's hosts and the NATS server they join, so control messages, heartbeats and
 * the weights they fetch cross a link with a real round-trip time. It runs in a worker thread of its own:
 * a test computing its reference output on the main thread must not stall the link (a stalled link
 * stops heartbeats, and the hosts behind it would be declared lost).
 */
import { Worker } from "node:worker_threads";

/** A running proxy. */
export interface DelayProxy {
  /** Address and port it listens on. */
  readonly host: string;
  readonly port: number;
  /** Bytes forwarded so far: towards the target, and back. */
  readonly bytes: { readonly up: number; readonly down: number };
  close(): Promise<void>;
}

/** The worker: listens, forwards each chunk `delayMs` late (timers of one delay fire in order), counts bytes. */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const net = require("node:net");
const { host, target, delayMs, counters } = workerData;
const bytes = new BigInt64Array(counters);
const HIGH_WATER = 4 << 20;
const sockets = new Set();
function pipe(a, b, slot) {
  let inFlight = 0;
  a.on("data", (d) => {
    inFlight += d.length;
    if (inFlight > HIGH_WATER) a.pause();
    setTimeout(() => {
      inFlight -= d.length;
      Atomics.add(bytes, slot, BigInt(d.length));
      if (!b.destroyed && !b.write(d)) a.pause();
      else if (inFlight <= HIGH_WATER) a.resume();
    }, delayMs);
  });
  b.on("drain", () => { if (inFlight <= HIGH_WATER) a.resume(); });
  a.on("end", () => setTimeout(() => b.end(), delayMs));
  a.on("error", () => b.destroy());
  a.on("close", () => setTimeout(() => b.destroy(), delayMs + 1));
}
const server = net.createServer((client) => {
  const upstream = net.connect(target.port, target.host);
  for (const s of [client, upstream]) { sockets.add(s); s.once("close", () => sockets.delete(s)); }
  pipe(client, upstream, 0);
  pipe(upstream, client, 1);
});
server.once("error", (e) => parentPort.postMessage({ error: e.message }));
server.listen(0, host, () => parentPort.postMessage({ port: server.address().port }));
parentPort.on("message", (m) => {
  if (m !== "close") return;
  for (const s of sockets) s.destroy();
  server.close(() => parentPort.postMessage({ closed: true }));
});
`;

/** Listen on `host` (a free port) and forward every connection to `target`, `delayMs` late each way. */
export async function startDelayProxy(o: { host: string; target: { host: string; port: number }; delayMs: number }): Promise<DelayProxy> {
  const counters = new SharedArrayBuffer(16);
  const view = new BigInt64Array(counters);
  const worker = new Worker(WORKER, { eval: true, workerData: { host: o.host, target: o.target, delayMs: o.delayMs, counters } });
  const port = await new Promise<number>((res, rej) => {
    worker.once("error", rej);
    worker.once("message", (m: { port?: number; error?: string }) => (m.port ? res(m.port) : rej(new Error(`delay proxy on ${o.host}: ${m.error}`))));
  });
  let closing: Promise<void> | undefined;
  return {
    host: o.host,
    port,
    bytes: {
      get up() {
        return Number(Atomics.load(view, 0));
      },
      get down() {
        return Number(Atomics.load(view, 1));
      },
    },
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((res) => {
          worker.once("message", () => res());
          worker.postMessage("close");
        });
        await worker.terminate();
      })()),
  };
}
