/**
 * Worker thread of {@link ExpertWorkers}: holds the expert FFN sessions of its share of the experts
 * (one-thread sessions) and runs the rows it is sent. Messages in: `load` (one expert's weights),
 * `run` (rows of several experts of one layer); out: `loaded`, `done` (outputs, transferred) or
 * `error` (the message and stack of what failed, for the caller).
 */
import { parentPort, workerData } from "node:worker_threads";
import { ExpertBlock } from "../blocks/expert-block.js";
import type { ComputeOptions } from "../blocks/session.js";
import type { ExpertWeights } from "../onnx/expert.js";
import type { WorkerReply, WorkerRequest } from "./expert-workers.js";

const port = parentPort!;
const opts = (workerData as { opts: ComputeOptions }).opts;
const blocks = new Map<string, ExpertBlock>();
const key = (layer: number, expert: number) => `${layer}/${expert}`;

async function handle(m: WorkerRequest): Promise<WorkerReply> {
  if (m.type === "load") {
    blocks.set(key(m.layer, m.expert), await ExpertBlock.create(m.weights as ExpertWeights, opts));
    return { type: "loaded", id: m.id };
  }
  const outs: Float32Array[] = [];
  for (const j of m.jobs) {
    const b = blocks.get(key(m.layer, j.expert));
    if (!b) throw new Error(`expert ${j.expert} of layer ${m.layer} is not loaded in this worker`);
    const y = await b.run(j.x);
    // transferred back: a view of a larger buffer is copied out first
    outs.push(y.byteOffset === 0 && y.byteLength === y.buffer.byteLength ? y : y.slice());
  }
  return { type: "done", id: m.id, outs };
}

// one request at a time, in order (the caller sends one run per layer and awaits it)
let chain: Promise<void> = Promise.resolve();
port.on("message", (m: WorkerRequest) => {
  chain = chain.then(async () => {
    try {
      const r = await handle(m);
      port.postMessage(r, r.type === "done" ? r.outs.map((o) => o.buffer as ArrayBuffer) : []);
    } catch (e) {
      const err = e as Error;
      port.postMessage({ type: "error", id: m.id, message: err.message, stack: err.stack ?? "" } satisfies WorkerReply);
    }
  });
});
port.on("close", () => {
  for (const b of blocks.values()) void b.close();
});
