/**
 * Fuzz: mutated and random frames, in-process and over real sockets, to the
 * serving ROUTER (RpcServer) and to the calling DEALER (RpcClient). Nothing
 * crashes, nothing hangs, every frame that is invalid by construction is
 * rejected, and the sockets' `rejected` counters equal exactly the number of
 * frames an in-process decode of the same bytes rejects. Afterwards both
 * sides still answer a valid request.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as zmq from "zeromq";
import { InvalidMessageError, RpcClient, RpcServer, decode, encode, type Expectation, type Kind } from "../../transport/index.js";
import { fuzzCases, type FuzzCase, type FuzzSettings } from "./fuzz.js";
import { Closer, address, sample } from "./helpers.js";

const dModel = 24;
const maxMessageSize = 64 * 1024;
const closer = new Closer();
afterEach(() => closer.closeAll());

/** CPU milliseconds this process has spent (user + system): other processes on a busy machine do not inflate it. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** What an in-process decode says about each case; fails the test on anything but a typed rejection. */
function oracle(cases: readonly FuzzCase[], expect_: Expectation): { rejected: number; accepted: number; slowestCpuMs: number; byMutation: Map<string, [number, number]> } {
  let rejected = 0;
  let slowestCpuMs = 0;
  const byMutation = new Map<string, [number, number]>();
  for (const c of cases) {
    const t0 = cpuMs();
    let ok = false;
    try {
      if (c.parts.length !== 1) throw new InvalidMessageError("MULTIPART", "two frames");
      decode(c.parts[0], expect_);
      ok = true;
    } catch (err) {
      if (!(err instanceof InvalidMessageError)) throw new Error(`decode threw ${String(err)} on a "${c.mutation}" case`);
    }
    slowestCpuMs = Math.max(slowestCpuMs, cpuMs() - t0);
    if (!ok) rejected++;
    if (ok && c.mustReject) throw new Error(`a "${c.mutation}" frame, invalid by construction, was accepted`);
    const m = byMutation.get(c.mutation) ?? [0, 0];
    m[ok ? 0 : 1]++;
    byMutation.set(c.mutation, m);
  }
  return { rejected, accepted: cases.length - rejected, slowestCpuMs, byMutation };
}

const serverKinds: Kind[] = ["moe.dispatch", "router.request", "stage.forward", "stage.tokens", "stage.logits", "stage.input", "seq.release", "error", "ping", "ready"];
const clientKinds: Kind[] = ["moe.result", "router.response", "stage.tokens", "error", "pong", "ready", "seq.release"];

describe("fuzz", () => {
  it("codec: 20,000 mutated frames, and every metadata word overwritten, decode or reject quickly, never throw anything else", () => {
    const settings: FuzzSettings = { dModel, maxMessageSize, acceptedKinds: serverKinds, refusedKind: "moe.result", idBase: 5_000_000 };
    const cases = fuzzCases(20_000, 11, settings);
    const o = oracle(cases, { dModel, maxMessageSize, kinds: serverKinds });
    expect(o.rejected).toBeGreaterThan(15_000);
    // no frame makes the decoder loop: a declared count of ~2^31 fields would take seconds of CPU (Arrow alone
    // loops over them); CPU time, not wall time, so a busy machine does not fail it
    expect(o.slowestCpuMs).toBeLessThan(250);
    for (const name of ["bit flips", "metadata word", "declared rows", "truncation"]) expect(o.byMutation.get(name)?.[1] ?? 0).toBeGreaterThan(0);

    // systematic: each 4-byte word of the metadata set to extreme values
    let tried = 0;
    let slowest = 0;
    for (const m of [sample("moe.dispatch", dModel, 3), { ...sample("stage.forward", dModel, 2), wireDtype: "f16" as const }, sample("stage.tokens", dModel, 4), sample("error", dModel)]) {
      const frame = encode(m);
      for (let at = 0; at + 4 <= frame.length; at += 4) {
        for (const value of [0x7fffffff, 0xffffffff, 0x80000000, 0x00010000, 0x7ffffff8]) {
          const f = Uint8Array.from(frame);
          new DataView(f.buffer).setUint32(at, value, true);
          const t0 = cpuMs();
          try {
            decode(f, { dModel, maxMessageSize });
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidMessageError);
          }
          slowest = Math.max(slowest, cpuMs() - t0);
          tried++;
        }
      }
    }
    expect(tried).toBeGreaterThan(1000);
    expect(slowest).toBeLessThan(250);
  });

  it("ROUTER (RpcServer over tcp): 12,000 bad and good frames are counted exactly, and it still answers", async () => {
    const settings: FuzzSettings = { dModel, maxMessageSize, acceptedKinds: serverKinds, refusedKind: "moe.result", idBase: 7_000_000 };
    const expectation: Expectation = { dModel, kinds: serverKinds, maxMessageSize };
    const cases = fuzzCases(12_000, 1, settings);
    const o = oracle(cases, expectation);
    expect(cases.filter((c) => c.mustReject).length).toBeGreaterThan(5000);

    const server = closer.add(await RpcServer.bind({ endpoint: address("tcp"), expect: expectation, name: "fuzzed" }));
    let handled = 0;
    void server.serve((req) => {
      handled++;
      return req.message.kind === "ping" ? { kind: "pong" } : undefined;
    });
    const raw = closer.add(new zmq.Dealer({ linger: 0, routingId: "fuzzer" }));
    raw.connect(server.endpoint);
    const syncId = 999_999_999;
    const synced = (async () => {
      for await (const [frame] of raw) {
        const reply = decode(frame, { dModel, maxMessageSize });
        if (reply.kind === "pong" && reply.id === syncId) return;
      }
    })();
    let bytes = 0;
    for (const c of cases) {
      await raw.send(c.parts);
      bytes += c.parts.reduce((n, p) => n + p.length, 0);
    }
    await raw.send(encode({ kind: "ping", id: syncId }));
    await synced; // every frame before the ping has been judged

    const peer = server.metrics.peer("fuzzer");
    expect(peer.messagesIn).toBe(cases.length + 1);
    expect(peer.bytesIn).toBe(bytes + encode({ kind: "ping", id: syncId }).length);
    expect(peer.rejected).toBe(o.rejected);
    expect(handled).toBe(o.accepted + 1);
    // a well-behaved client is still served
    const client = closer.add(RpcClient.connect({ endpoint: server.endpoint, expect: { dModel } }));
    await expect(client.ping({ deadlineMs: 5000 })).resolves.toBeGreaterThan(0);
  });

  it("DEALER (RpcClient over ipc): 12,000 bad and good replies are counted exactly, and the pending request still completes", async () => {
    const settings: FuzzSettings = { dModel, maxMessageSize, acceptedKinds: clientKinds, refusedKind: "moe.dispatch", idBase: 8_000_000 };
    const expectation: Expectation = { dModel, kinds: clientKinds, maxMessageSize };
    const cases = fuzzCases(12_000, 2, settings);
    const o = oracle(cases, expectation);

    const router = closer.add(new zmq.Router({ linger: 0, mandatory: true }));
    await router.bind(address("ipc"));
    const pushed: string[] = [];
    const client = closer.add(RpcClient.connect({ endpoint: router.lastEndpoint!, expect: expectation, onMessage: (m) => pushed.push(m.kind) }));
    const pending = client.request({ kind: "ping" }, { deadlineMs: 60_000 });
    const [identity, request] = await router.receive();
    const ping = decode(request, { dModel });
    for (const c of cases) await router.send([identity, ...c.parts]);
    await router.send([identity, encode({ kind: "pong", id: ping.id })]);
    await expect(pending).resolves.toMatchObject({ kind: "pong" });

    const peer = client.metrics.peer(router.lastEndpoint!);
    expect(peer.messagesIn).toBe(cases.length + 1);
    expect(peer.rejected).toBe(o.rejected);
    // valid fuzz frames answer no pending request: pushes (id 0) or late replies
    expect(pushed.length + (peer.errorsByCode.LATE_REPLY ?? 0)).toBe(o.accepted);
  });
});
