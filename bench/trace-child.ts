/**
 * Child process of `moe bench cluster`: an expert host's request path built
 * from the same parts as stages/expert-host.ts (transport's RpcServer, a
 * batch flushed on the next event-loop turn like ExpertBatcher, the layer's
 * experts in one onnxruntime session, run once per message, via model's
 * buildLayerSessions, as stages/expert-sessions.ts holds them), with a timestamp
 * at every step. Timestamps are CLOCK_MONOTONIC milliseconds
 * (`process.hrtime`), the same clock in every process of the machine, so the
 * parent can line them up with its own.
 *
 * argv: MODEL_PATH LAYER THREADS. IPC: sends `{endpoint}` once bound;
 * answers "dump" with `{records}` (and forgets them); "close" closes and exits.
 */
import { buildLayerSessions, expertWeights, openModel } from "../model/index.js";
import { RpcServer, type Incoming, type MoeDispatch } from "../transport/index.js";
import type { TraceRecord } from "./trace.js";

const [modelPath, layerArg, threadsArg] = process.argv.slice(2);
const layer = Number(layerArg);
const threads = Number(threadsArg ?? 1);
const mono = (): number => Number(process.hrtime.bigint()) / 1e6;

const model = openModel(modelPath!);
const cfg = model.config;
const blocks = await buildLayerSessions(
  Array.from({ length: cfg.nExperts }, (_, e) => e),
  (e) => expertWeights(model.weights, layer, e),
  { threads },
);
const server = await RpcServer.bind({ endpoint: "tcp://127.0.0.1:0", name: "trace-expert", expect: { dModel: cfg.dModel, kinds: ["moe.dispatch"] } });

let records: TraceRecord[] = [];
let queue: { req: Incoming; handler: number; recv: number }[] = [];
let scheduled = false;

/** Runs of equal experts in a dispatch's `expert` column: rows [a, b) of `expert`. */
function expertRuns(expert: Uint32Array): { expert: number; a: number; b: number }[] {
  const runs: { expert: number; a: number; b: number }[] = [];
  for (let i = 0; i < expert.length; ) {
    let j = i + 1;
    while (j < expert.length && expert[j] === expert[i]) j++;
    runs.push({ expert: expert[i]!, a: i, b: j });
    i = j;
  }
  return runs;
}

/** Like ExpertBatcher.flush: run the queued requests one after another; replies go out as each run ends. */
async function flush(): Promise<void> {
  scheduled = false;
  const wake = mono();
  const work = queue;
  queue = [];
  for (const { req, handler, recv } of work) {
    const m = req.message as MoeDispatch;
    const D = cfg.dModel;
    // one run per layer session for all the message's expert runs (each contiguous), as the expert host does
    const runStart = mono();
    const runs = expertRuns(m.expert);
    const y = new Float32Array(m.hidden.length);
    for (const b of blocks) {
      const mine = runs.filter((r) => b.holds(r.expert)).sort((p, q) => b.experts.indexOf(p.expert) - b.experts.indexOf(q.expert));
      if (!mine.length) continue;
      const out = await b.run(m.hidden, { experts: mine.map((r) => r.expert), rows: mine.map((r) => Int32Array.from({ length: r.b - r.a }, (_, i) => r.a + i)) });
      let o = 0;
      for (const r of mine) y.set(out.subarray(o, (o += (r.b - r.a) * D)), r.a * D);
    }
    const runEnd = mono();
    const rec: TraceRecord = { id: m.id!, rows: m.row.length, recv, handler, wake, runStart, runEnd, replied: 0 };
    records.push(rec);
    void server
      .reply(req, { kind: "moe.result", layer: m.layer, row: m.row, seq: m.seq, pos: m.pos, expert: m.expert, hidden: y, dModel: D })
      .then(() => (rec.replied = mono()))
      .catch(() => undefined);
  }
}

const loop = (async () => {
  for await (const req of server) {
    // receivedAt is performance.now(), which drifts from CLOCK_MONOTONIC: anchor the short interval here
    const handler = mono();
    queue.push({ req, handler, recv: handler - (performance.now() - req.receivedAt) });
    if (!scheduled) {
      scheduled = true;
      setImmediate(() => void flush());
    }
  }
})();

let closing = false;
async function stop(): Promise<void> {
  if (closing) return;
  closing = true;
  await server.close();
  await loop.catch(() => undefined);
  for (const b of blocks) await b.close();
  model.close();
  process.disconnect?.();
}
process.on("message", (msg) => {
  if (msg === "dump") {
    process.send!({ records });
    records = [];
  } else if (msg === "close") void stop();
});
process.on("disconnect", () => void stop());
process.send!({ endpoint: server.endpoint });
