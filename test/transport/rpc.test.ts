import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import * as zmq from "zeromq";
import {
  DeadlineExceededError,
  PeerBusyError,
  PeerUnreachableError,
  QueueFullError,
  RemoteError,
  RpcClient,
  RpcServer,
  SocketClosedError,
  UnexpectedReplyError,
  decode,
  encode,
  type Incoming,
  type MoeDispatch,
} from "../../transport/index.js";
import { Closer, TRANSPORTS, address, sample, sleep } from "./helpers.js";

const dModel = 32;
const expectation = { dModel };
const closer = new Closer();
afterEach(() => closer.closeAll());

async function server(transport: (typeof TRANSPORTS)[number], extra: Partial<Parameters<typeof RpcServer.bind>[0]> = {}): Promise<RpcServer> {
  return closer.add(await RpcServer.bind({ endpoint: address(transport), expect: expectation, name: "test-server", ...extra }));
}

function client(endpoint: string, extra: Partial<Parameters<typeof RpcClient.connect>[0]> = {}): RpcClient {
  return closer.add(RpcClient.connect({ endpoint, expect: expectation, name: "test-client", ...extra }));
}

/** Wait until the client's handshake with its server has completed. */
async function untilConnected(c: RpcClient, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  await c.ping({ deadlineMs: ms });
  while (!c.isConnected) {
    if (Date.now() > end) throw new Error(`not connected after ${ms} ms`);
    await sleep(10);
  }
}

/** Poll `f` until it throws; resolves with the error (fails after `ms`). */
async function untilThrows(f: () => Promise<unknown>, ms = 5000): Promise<unknown> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      await f();
    } catch (err) {
      return err;
    }
    await sleep(20);
  }
  throw new Error(`still not failing after ${ms} ms`);
}

describe.each(TRANSPORTS)("RPC over %s", (transport) => {
  it("fails pending requests as soon as the connection to the server is lost, and new ones at once until it is back", async () => {
    const srv = await server(transport);
    // answers pings, never answers anything else
    void srv.serve((req) => (req.message.kind === "ping" ? { kind: "pong" } : new Promise<undefined>(() => undefined)));
    const cli = client(srv.endpoint);
    await untilConnected(cli);
    const t0 = performance.now();
    const pending = cli.request({ kind: "seq.release", seq: Uint32Array.of(7) }, { deadlineMs: 20_000 });
    await sleep(50);
    await srv.close();
    const err = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PeerUnreachableError);
    expect(performance.now() - t0).toBeLessThan(5000); // long before the 20 s deadline
    await expect(cli.request({ kind: "ping" }, { deadlineMs: 20_000 })).rejects.toBeInstanceOf(PeerUnreachableError);
    expect(cli.isConnected).toBe(false);
  });

  it("answers many requests in flight at once, each with its own reply", async () => {
    const srv = await server(transport);
    // reply in a scrambled order: later requests may be answered first
    void srv.serve(async (req) => {
      const m = req.message as MoeDispatch;
      await sleep((m.seq[0] * 7919) % 13);
      const hidden = Float32Array.from(m.hidden, (v) => 2 * v);
      return { ...m, kind: "moe.result", hidden };
    });
    const cli = client(srv.endpoint, { identity: `router-${transport}` });
    const n = 300;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const msg = sample("moe.dispatch", dModel, 1 + (i % 4), i + 1);
        msg.seq.fill(i);
        return cli.request(msg, { deadlineMs: 20_000 }).then((r) => ({ i, r, msg }));
      }),
    );
    for (const { i, r, msg } of replies) {
      expect(r.kind).toBe("moe.result");
      expect(r.seq[0]).toBe(i);
      expect(Array.from(r.hidden)).toEqual(Array.from(msg.hidden, (v) => 2 * v));
    }
    const s = srv.metrics.snapshot();
    expect(s.peers[`router-${transport}`].messagesIn).toBe(n);
    expect(s.peers[`router-${transport}`].messagesOut).toBe(n);
    expect(s.totals.rejected).toBe(0);
    const c = cli.metrics.peer(srv.endpoint);
    expect(c.messagesOut).toBe(n);
    expect(c.latency.count).toBe(n);
    expect(c.bytesIn).toBeGreaterThan(0);
    expect(cli.inFlight).toBe(0);
  });

  it("rejects with DeadlineExceededError naming the peer when no reply comes in time", async () => {
    const srv = await server(transport);
    const seen: Incoming[] = [];
    void (async () => {
      for await (const req of srv) seen.push(req); // never answers
    })();
    const cli = client(srv.endpoint);
    const t0 = performance.now();
    const err = await cli.request(sample("router.request", dModel), { deadlineMs: 200 }).catch((e: unknown) => e);
    const took = performance.now() - t0;
    expect(err).toBeInstanceOf(DeadlineExceededError);
    expect((err as DeadlineExceededError).peer).toBe(srv.endpoint);
    expect((err as DeadlineExceededError).kind).toBe("router.request");
    expect((err as DeadlineExceededError).layer).toBe(1);
    expect(took).toBeGreaterThanOrEqual(195);
    expect(took).toBeLessThan(1500);
    expect(seen).toHaveLength(1);
    expect(seen[0].message.deadline).toBeGreaterThan(Date.now() - 10_000);
    // a reply after the deadline is counted as late and changes nothing
    await srv.reply(seen[0], sample("router.response", dModel));
    await sleep(100);
    expect(cli.metrics.peer(srv.endpoint).errorsByCode).toMatchObject({ DEADLINE_EXCEEDED: 1, LATE_REPLY: 1 });
  });

  it("drops requests whose deadline passed before they were read", async () => {
    const srv = await server(transport, { deadlineGraceMs: 0 });
    const cli = client(srv.endpoint);
    await cli.request(sample("ping", dModel), { deadlineMs: 30 }).catch(() => undefined);
    await sleep(100);
    const got: string[] = [];
    void srv.serve((req) => {
      got.push(req.message.kind);
      return { kind: "pong" };
    });
    await cli.ping({ deadlineMs: 5000 });
    expect(got).toEqual(["ping"]); // the expired one was skipped
    expect(srv.metrics.snapshot().totals.errorsByCode.EXPIRED).toBe(1);
  });

  it("makes a ROUTER send to a peer that has gone (or never was) an error", async () => {
    const srv = await server(transport);
    const peers: Buffer[] = [];
    void srv.serve((req) => {
      peers.push(req.peer);
      return { kind: "pong" };
    });
    const cli = client(srv.endpoint);
    await cli.ping();
    await expect(srv.send(Buffer.from("nobody"), { kind: "ping" })).rejects.toBeInstanceOf(PeerUnreachableError);
    await cli.close();
    const err = await untilThrows(() => srv.send(peers[0], { kind: "ping" }));
    expect(err).toBeInstanceOf(PeerUnreachableError);
    expect((err as PeerUnreachableError).code).toBe("PEER_UNREACHABLE");
    expect(srv.metrics.snapshot().totals.errorsByCode.PEER_UNREACHABLE).toBeGreaterThanOrEqual(2);
  });

  it("bounds the pending queue and rejects pending requests on close", async () => {
    const srv = await server(transport);
    void (async () => {
      for await (const _ of srv); // never answers
    })();
    const cli = client(srv.endpoint, { maxPending: 4 });
    const pending = Array.from({ length: 4 }, () => cli.request(sample("ping", dModel), { deadlineMs: 60_000 }).catch((e: unknown) => e));
    await expect(cli.request(sample("ping", dModel))).rejects.toBeInstanceOf(QueueFullError);
    expect(cli.inFlight).toBe(4);
    await cli.close();
    for (const e of await Promise.all(pending)) expect(e).toBeInstanceOf(SocketClosedError);
    await expect(cli.request(sample("ping", dModel))).rejects.toBeInstanceOf(SocketClosedError);
  });

  it("answers an invalid request with an error naming the reason (NaN in hidden)", async () => {
    const srv = await server(transport);
    void srv.serve(() => ({ kind: "pong" }));
    const cli = client(srv.endpoint);
    const msg = sample("moe.dispatch", dModel, 2);
    msg.hidden[5] = NaN;
    const err = await cli.request(msg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).remoteCode).toBe("NON_FINITE");
    expect((err as RemoteError).host).toBe("test-server");
    expect(srv.metrics.snapshot().totals.rejectedByCode).toEqual({ NON_FINITE: 1 });
    // a handler that throws answers with its code
    const srv2 = await server(transport);
    void srv2.serve(() => {
      throw Object.assign(new Error("expert (2, 5) is not loaded here"), { code: "EXPERT_NOT_LOADED", layer: 2, expert: 5 });
    });
    const cli2 = client(srv2.endpoint);
    const err2 = (await cli2.request(sample("moe.dispatch", dModel)).catch((e: unknown) => e)) as RemoteError;
    expect(err2.remoteCode).toBe("EXPERT_NOT_LOADED");
    expect([err2.layer, err2.expert]).toEqual([2, 5]);
  });

  it("rejects a reply of the wrong kind with UnexpectedReplyError", async () => {
    const srv = await server(transport);
    void srv.serve(() => ({ kind: "pong" }));
    const cli = client(srv.endpoint);
    await expect(cli.request(sample("moe.dispatch", dModel))).rejects.toBeInstanceOf(UnexpectedReplyError);
  });

  it("turns a full peer queue into PeerBusyError instead of blocking or growing", async () => {
    const srv = await server(transport, { sendHighWaterMark: 2 });
    const raw = closer.add(new zmq.Dealer({ linger: 0, receiveHighWaterMark: 2 }));
    raw.connect(srv.endpoint);
    await raw.send(encode({ kind: "ping", id: 1 }));
    const it = srv[Symbol.asyncIterator]();
    const req = (await it.next()).value as Incoming;
    const big = sample("moe.result", 4096, 64); // 1 MiB per frame
    const err = await untilThrows(() => srv.send(req.peer, { ...big, dModel: 4096 }), 20_000);
    expect(err).toBeInstanceOf(PeerBusyError);
    expect(srv.metrics.snapshot().totals.errorsByCode.PEER_BUSY).toBe(1);
    await it.return?.();
  });

  it("fails a request at once with PeerBusyError when the queue to a server that reads nothing is full (sendTimeoutMs 0, the default)", async () => {
    // a ROUTER that never receives: the client's queue (and the socket buffers) fill up
    const stuck = closer.add(new zmq.Router({ linger: 0, receiveHighWaterMark: 2 }));
    await stuck.bind(address(transport));
    const cli = client(stuck.lastEndpoint!, { sendHighWaterMark: 2, maxPending: 100_000, defaultDeadlineMs: 60_000 });
    const big = { ...sample("moe.dispatch", 4096, 64), dModel: 4096 }; // 1 MiB per frame
    const pending: Promise<unknown>[] = [];
    const t0 = Date.now();
    const err = await untilThrows(async () => {
      const p = cli.request(big);
      pending.push(p.catch(() => undefined));
      // a send that went out leaves the request pending: give it a moment to fail, then send the next
      await Promise.race([p, sleep(5)]);
    }, 20_000);
    expect(err).toBeInstanceOf(PeerBusyError);
    expect((err as PeerBusyError).peer).toBe(stuck.lastEndpoint);
    expect(cli.metrics.snapshot().totals.errorsByCode.PEER_BUSY).toBe(1);
    expect(Date.now() - t0).toBeLessThan(20_000);
    await cli.close();
    await Promise.all(pending);
  });

  it("delivers one-way messages and server pushes", async () => {
    const srv = await server(transport);
    const got: string[] = [];
    void srv.serve((req) => {
      got.push(req.message.kind);
      return undefined;
    });
    const pushed: string[] = [];
    const cli = client(srv.endpoint, { identity: "stage-1", onMessage: (m) => pushed.push(m.kind) });
    await cli.send(sample("seq.release", dModel));
    await cli.send(sample("stage.forward", dModel));
    const end = Date.now() + 5000;
    while (got.length < 2 && Date.now() < end) await sleep(10);
    expect(got).toEqual(["seq.release", "stage.forward"]);
    await srv.send(Buffer.from("stage-1"), { kind: "ready" });
    while (pushed.length < 1 && Date.now() < end) await sleep(10);
    expect(pushed).toEqual(["ready"]);
  });

  it("hands the receiver views of the zeromq frame (no copy) over a real socket", async () => {
    const router = closer.add(new zmq.Router({ linger: 0 }));
    await router.bind(address(transport));
    const dealer = closer.add(new zmq.Dealer({ linger: 0 }));
    dealer.connect(router.lastEndpoint!);
    await dealer.send(encode(sample("moe.dispatch", dModel, 8)));
    const [, frame] = await router.receive();
    const m = decode(frame, expectation) as MoeDispatch;
    expect(m.hidden.buffer).toBe(frame.buffer);
    expect(m.seq.buffer).toBe(frame.buffer);
  });
});

describe("closing", () => {
  it("removes the ipc socket file the server bound, and rejects use after close", async () => {
    const srv = await RpcServer.bind({ endpoint: address("ipc"), expect: expectation });
    const path = srv.endpoint.slice("ipc://".length);
    expect(existsSync(path)).toBe(true);
    await srv.close();
    await srv.close(); // idempotent
    expect(existsSync(path)).toBe(false);
    await expect(srv.send(Buffer.from("x"), { kind: "ping" })).rejects.toBeInstanceOf(SocketClosedError);
  });
});

describe("ZMTP heartbeats", () => {
  it("drop a peer that stops answering (SIGSTOP), so sends to it fail", async () => {
    const srv = await server("tcp", { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 400, heartbeatTtlMs: 400 });
    const peers: Buffer[] = [];
    void srv.serve((req) => {
      peers.push(req.peer);
      return { kind: "pong" };
    });
    const child = spawn(process.execPath, [fileURLToPath(new URL("./fixtures/stoppable-dealer.mjs", import.meta.url)), srv.endpoint, Buffer.from(encode({ kind: "ping", id: 1 })).toString("base64")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    closer.add({ close: () => child.kill("SIGKILL") });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once("data", () => resolve());
      child.once("exit", (code) => reject(new Error(`child exited with ${code}`)));
    });
    expect(peers).toHaveLength(1);
    await srv.send(peers[0], { kind: "ping" }); // connected: the send is queued
    child.kill("SIGSTOP"); // the process lives, its TCP socket stays open, but it answers no heartbeat
    const t0 = Date.now();
    const err = await untilThrows(() => srv.send(peers[0], { kind: "ping" }), 5000);
    expect(err).toBeInstanceOf(PeerUnreachableError);
    expect(Date.now() - t0).toBeLessThan(3000);
    child.kill("SIGCONT");
  });
});
