/**
 * The traced breakdown of one layer call of `moe bench cluster` (bench/trace.ts),
 * beside the same frames through bare ZeroMQ. (The round trips themselves:
 * bench/round-trip-rig.ts.)
 */
import { routerWeights, type ModelConfig, type WeightReader } from "../model/index.js";
import type { WireDtype } from "../transport/index.js";
import type { BreakdownRow } from "./cluster-report.js";
import { EchoChildren, EchoClient } from "./echo.js";
import { callCpu, layerCall, type CallPlacement } from "./moe-calls.js";
import { median } from "./stats.js";
import { ROWS, echoFrames, timed } from "./round-trip-rig.js";
import { TraceHost, traceCalls } from "./trace.js";

/** Inputs of {@link traceBreakdown}. */
export interface TraceInput {
  readonly modelDir: string;
  readonly cfg: ModelConfig;
  readonly weights: WeightReader;
  readonly threads: number;
  readonly wireDtype: WireDtype;
  readonly calls: number;
}

/** Median ms of one idle event-loop turn (setImmediate) in this process. */
async function eventLoopTurn(reps: number): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) t.push(await timed(() => new Promise((r) => setImmediate(r))));
  return median(t);
}

/** The traced breakdown of a layer-0 call of 1 and 16 rows to one child expert host, with the codec timed alone and the raw baseline. */
export async function traceBreakdown(o: TraceInput): Promise<BreakdownRow[]> {
  const { cfg } = o;
  const router = routerWeights(o.weights, cfg, 0).router;
  const where: CallPlacement = { experts: Array.from({ length: cfg.nExperts }, (_, e) => ({ layer: 0, expert: e, hosts: ["trace"] })), hosts: ["trace"] };
  const host = await TraceHost.start(o.modelDir, 0, o.threads, cfg.dModel);
  const children = await EchoChildren.start(1);
  const raw = EchoClient.connect(children.endpoints);
  const out: BreakdownRow[] = [];
  try {
    for (const R of ROWS) {
      const c = layerCall(cfg, router, 0, R, where, o.wireDtype, 11 + R);
      const traced = await traceCalls(host, c, o.calls);
      const frames = echoFrames(c, true);
      for (let w = 0; w < 3; w++) await raw.call(frames);
      const rawTimes: number[] = [];
      for (let i = 0; i < o.calls; i++) rawTimes.push(await raw.call(frames));
      out.push({ rows: R, messages: c.dispatches.length, traced, cpu: callCpu(cfg, router, c, o.calls), rawOneHostMs: median(rawTimes), eventLoopTurnMs: await eventLoopTurn(o.calls) });
    }
  } finally {
    raw.close();
    await children.close();
    await host.close();
  }
  return out;
}
