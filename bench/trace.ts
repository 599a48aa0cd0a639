/**
 * Where one dispatch + combine goes, by timestamps: this process sends a
 * layer call's `moe.dispatch` messages through a real {@link RpcClient} to a
 * child process that serves them the way an expert host does
 * (bench/trace-child.ts: RpcServer → batch on the next event-loop turn →
 * onnxruntime run → reply), both sides stamping CLOCK_MONOTONIC. For every
 * call, the message that finishes last (the critical path) is cut into the
 * intervals of {@link TRACE_PARTS}; the medians over the calls are reported.
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { RpcClient, type Message } from "../transport/index.js";
import { firstMessage, forkBenchChild } from "./child.js";
import type { LayerCall } from "./moe-calls.js";
import { median } from "./stats.js";

/** What the child stamps for one request, CLOCK_MONOTONIC ms. */
export interface TraceRecord {
  id: number;
  rows: number;
  /** Frame received by the ROUTER (before decoding). */
  recv: number;
  /** Decoded, validated message handed to the handler. */
  handler: number;
  /** The batch flush started (next event-loop turn). */
  wake: number;
  runStart: number;
  runEnd: number;
  /** The reply's send resolved (late when the child's event loop is busy: not used to cut intervals). */
  replied: number;
}

/** The intervals of a traced round trip, in order; they add up to the whole call. */
export const TRACE_PARTS = [
  ["sendToReceipt", "router encodes and sends its dispatches; ZeroMQ hop; expert host wakes and reads the frame"],
  ["serverDecode", "expert host decodes and validates the frame; the receive loop hands it to the handler"],
  ["batchWake", "expert host waits one event-loop turn for the batch flush (setImmediate)"],
  ["queued", "waits while the same flush runs other messages' sessions"],
  ["ortRun", "onnxruntime runs of the message's experts: one per layer session"],
  ["reply", "expert host encodes the result and sends it; ZeroMQ hop back; router wakes, decodes, validates and settles the request"],
] as const;

/** Name of a traced interval. */
export type TracePart = (typeof TRACE_PARTS)[number][0];

const mono = (): number => Number(process.hrtime.bigint()) / 1e6;

/** A traced expert host in a child process holding every expert of one layer. */
export class TraceHost {
  private constructor(
    private readonly child: ChildProcess,
    private readonly client: RpcClient,
  ) {}

  static async start(modelPath: string, layer: number, threads: number, dModel: number): Promise<TraceHost> {
    const child = forkBenchChild("trace-child", [modelPath, String(layer), String(threads)]);
    const msg = await firstMessage<{ endpoint: string }>(child, "the trace child");
    const client = RpcClient.connect({ endpoint: msg.endpoint, name: "bench-router", expect: { dModel, kinds: ["moe.result", "error"] } });
    return new TraceHost(child, client);
  }

  /** Send every dispatch of `call` at once; per message: send time, reply id and arrival, CLOCK_MONOTONIC ms. */
  async call(call: LayerCall): Promise<{ start: number; sent: { id: number; done: number }[] }> {
    const start = mono();
    const sent = await Promise.all(
      call.dispatches.map((d) => {
        const { id: _id, deadline: _deadline, sender: _sender, ...msg } = d.message;
        return this.client.request(msg, { deadlineMs: 10_000 }).then((r: Message) => ({ id: r.id!, done: mono() }));
      }),
    );
    return { start, sent };
  }

  /** Process id of the child. */
  get pid(): number {
    return this.child.pid!;
  }

  /** The child's records since the last dump. */
  async records(): Promise<TraceRecord[]> {
    const reply = once(this.child, "message");
    this.child.send("dump");
    const [msg] = (await reply) as [{ records: TraceRecord[] }];
    return msg.records;
  }

  async close(): Promise<void> {
    await this.client.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.send("close");
    const timer = setTimeout(() => this.child.kill(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Medians of the traced intervals over `calls` calls, ms; `total` is the median call. */
export type TraceBreakdown = Record<TracePart, number> & { total: number; calls: number; messages: number };

/** Run `reps` traced calls (after warm-up) and cut each call's critical path into {@link TRACE_PARTS}. */
export async function traceCalls(host: TraceHost, call: LayerCall, reps: number): Promise<TraceBreakdown> {
  for (let i = 0; i < 5; i++) await host.call(call);
  await host.records();
  const calls: Awaited<ReturnType<TraceHost["call"]>>[] = [];
  for (let i = 0; i < reps; i++) calls.push(await host.call(call));
  const byId = new Map((await host.records()).map((r) => [r.id, r]));
  const parts: Record<TracePart, number[]> = Object.fromEntries(TRACE_PARTS.map(([p]) => [p, [] as number[]])) as Record<TracePart, number[]>;
  const totals: number[] = [];
  for (const c of calls) {
    const last = c.sent.reduce((a, b) => (b.done > a.done ? b : a));
    const r = byId.get(last.id);
    if (!r || r.replied === 0) continue;
    const cut: Record<TracePart, number> = {
      sendToReceipt: r.recv - c.start,
      serverDecode: r.handler - r.recv,
      batchWake: r.wake - r.handler,
      queued: r.runStart - r.wake,
      ortRun: r.runEnd - r.runStart,
      reply: last.done - r.runEnd,
    };
    for (const [p] of TRACE_PARTS) parts[p].push(cut[p]);
    totals.push(last.done - c.start);
  }
  if (!totals.length) throw new Error("no traced call could be matched with the child's records");
  return { ...(Object.fromEntries(TRACE_PARTS.map(([p]) => [p, median(parts[p])])) as Record<TracePart, number>), total: median(totals), calls: totals.length, messages: call.dispatches.length };
}
