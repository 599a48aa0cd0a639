/**
 * A host's heartbeat comes from a worker thread: it keeps coming while the
 * main thread is blocked (as when a large model's sessions are built), and
 * stops when the main thread has been silent past the limit (a hung process
 * must be declared lost). Over a real nats-server.
 */
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeartbeatSender, type Heartbeat, type NatsServerProcess } from "../../control/index.js";
import { NATS_MISSING, natsServer } from "./nats.js";

const hb = (name: string): Heartbeat => ({
  v: 1,
  name,
  address: "127.0.0.1",
  pid: process.pid,
  basePort: 20000,
  portCount: 8,
  capabilities: { threads: 1, device: "cpu-local" },
  state: "idle",
  epoch: 0,
  version: 0,
  processes: [],
  startedAt: Date.now(),
  seq: 0,
});

describe.skipIf(NATS_MISSING !== undefined)("heartbeats from a worker thread", () => {
  let nats: NatsServerProcess;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await natsServer();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("keep coming while the main thread is blocked", async () => {
    const seen: number[] = [];
    nc.subscribe("t.hb1", { callback: (_e, m) => seen.push((JSON.parse(new TextDecoder().decode(m.data)) as Heartbeat).seq) });
    await nc.flush();
    const s = await HeartbeatSender.start({ nats: nats.url, subject: "t.hb1", name: "h1", periodMs: 100 });
    s.update(hb("h1"), true);
    await new Promise((r) => setTimeout(r, 300));
    const before = seen.length;
    const end = Date.now() + 2000;
    while (Date.now() < end); // the main thread does nothing else for 2 s
    await new Promise((r) => setTimeout(r, 300));
    await s.stop();
    // published during the block (received once this thread could read them), in order
    expect(seen.length - before).toBeGreaterThanOrEqual(5); // 20 at the nominal period; a loaded machine delays timers
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });

  it("stop when the main thread has been silent past the limit", async () => {
    const seen: number[] = [];
    nc.subscribe("t.hb2", { callback: (_e, m) => seen.push((JSON.parse(new TextDecoder().decode(m.data)) as Heartbeat).seq) });
    await nc.flush();
    const s = await HeartbeatSender.start({ nats: nats.url, subject: "t.hb2", name: "h2", periodMs: 50, maxSilenceMs: 400 });
    s.update(hb("h2"));
    await new Promise((r) => setTimeout(r, 1200));
    const n = seen.length;
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(10); // at most 400 / 50 + 1 while the main thread's update was fresh
    await new Promise((r) => setTimeout(r, 500));
    expect(seen.length).toBe(n); // silent main thread: no more heartbeats
    s.update(hb("h2"), true);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.length).toBeGreaterThan(n); // it speaks again: so do they
    await s.stop();
  });
});
