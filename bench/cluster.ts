/**
 * `npm run bench -- cluster [--steps N] [--cluster FILE]`: the single-process
 * engine and a local cluster (configs/clusters/local.yaml: 2 stages with
 * their routers, 3 expert hosts, every process on 127.0.0.1) side by side in
 * one run on the same weights:
 *
 * - decode tokens/s and per-token latency at concurrency 1 and 16 (for the
 *   cluster at 16 also as 2 micro-batches of 8 in flight, which keeps both
 *   stages busy); the cluster ÷ single ratio is the figure;
 * - the round trip of one dispatch/combine per layer (a router in this
 *   process → the cluster's expert hosts over ZeroMQ) against the same MoE
 *   in-process;
 * - wire bytes per token per layer (transport metrics) against the Arrow
 *   payload (rows × d_model × 4 bytes, out and back).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterMonitor, launch, stageEndpoints, type ProcessState, type RunningCluster, type Runtime } from "../control/index.js";
import { Engine, openModel, routerWeights, type ModelConfig, type WeightReader } from "../model/index.js";
import { ensureTinyModel } from "../factory/index.js";
import { RouterCore, ZmqExpertTransport, placementKey } from "../router/index.js";
import { LocalBackend, PipelineClient, type StepBackend } from "../stages/index.js";

const PROMPT = 16;
const WARMUP = 3;

interface Rate {
  tokensPerSecond: number;
  msPerToken: number;
}

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

function prompt(cfg: ModelConfig, b: number): number[] {
  return [cfg.bosId, ...Array.from({ length: PROMPT - 1 }, (_, i) => 260 + ((b * 131 + i * 17) % (cfg.vocabSize - 260)))];
}

/** Decode `steps` steps of `group` sequences (one batch), after prefill and warm-up; returns the seconds of the timed steps. */
async function decodeGroup(backend: StepBackend, cfg: ModelConfig, seqs: number[], steps: number): Promise<number> {
  const greedy = { temperature: 0, topP: 1 };
  let res = await backend.step(seqs.map((seq, b) => ({ seq, pos: 0, tokens: prompt(cfg, seq + b), sampling: greedy })));
  let pos = PROMPT;
  let t0 = 0;
  for (let s = 0; s < WARMUP + steps; s++) {
    if (s === WARMUP) t0 = performance.now();
    res = await backend.step(seqs.map((seq, b) => ({ seq, pos, tokens: [res[b]!.token] })));
    pos++;
  }
  const seconds = (performance.now() - t0) / 1000;
  await backend.release(seqs);
  return seconds;
}

/** `concurrency` sequences split into `groups` micro-batches decoding at once. */
async function decodeRate(backend: StepBackend, cfg: ModelConfig, concurrency: number, groups: number, steps: number, seqBase: number): Promise<Rate> {
  const per = concurrency / groups;
  const secs = await Promise.all(Array.from({ length: groups }, (_, g) => decodeGroup(backend, cfg, Array.from({ length: per }, (_, i) => seqBase + g * per + i), steps)));
  const s = Math.max(...secs);
  return { tokensPerSecond: (concurrency * steps) / s, msPerToken: (s * 1000) / steps };
}

/** Deterministic pseudo-normal rows [R, D] (scaled like normed hidden states). */
function rows(R: number, D: number, seed: number): Float32Array {
  let x = seed >>> 0 || 1;
  const u = () => ((x = (x * 1664525 + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return Float32Array.from({ length: R * D }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface MoeRow {
  rows: number;
  layer: number;
  wireMs: number;
  wireMeanMs: number;
  localMs: number;
  wireBytesPerToken: number;
  payloadBytesPerToken: number;
}

/** One dispatch/combine per layer through the cluster's expert hosts vs the engine's in-process MoE. */
async function moeRoundTrips(runtime: Runtime, cfg: ModelConfig, weights: WeightReader, engine: Engine, calls: number): Promise<MoeRow[]> {
  const D = cfg.dModel;
  const placement = new Map(runtime.experts.map((x) => [placementKey(x.layer, x.expert), [...x.hosts]]));
  const routers = new Map(Array.from({ length: cfg.nLayers }, (_, l) => [l, routerWeights(weights, cfg, l).router] as const));
  const transport = new ZmqExpertTransport({ hosts: new Map(Object.entries(runtime.expertHosts)), dModel: D, name: "bench-router", wireDtype: runtime.wireDtype });
  const router = new RouterCore(cfg, routers, placement, transport, { dispatchTimeoutMs: 10_000 });
  const out: MoeRow[] = [];
  try {
    for (const R of [1, 16]) {
      for (let layer = 0; layer < cfg.nLayers; layer++) {
        const m = rows(R, D, 7 + layer * 31 + R);
        const seq = Uint32Array.from({ length: R }, (_, i) => 900_000 + i);
        const pos = new Uint32Array(R);
        for (let w = 0; w < 3; w++) await router.moe(layer, m, seq, pos, Date.now() + 10_000);
        const before = totals(transport);
        const before2 = rowsRouted(router, layer);
        const wire: number[] = [];
        for (let c = 0; c < calls; c++) {
          const t0 = performance.now();
          await router.moe(layer, m, seq, pos, Date.now() + 10_000);
          wire.push(performance.now() - t0);
        }
        const after = totals(transport);
        const routed = rowsRouted(router, layer) - before2; // = calls × R × top-k
        const local: number[] = [];
        for (let c = 0; c < calls; c++) {
          const t0 = performance.now();
          await engine.moe.run(layer, m);
          local.push(performance.now() - t0);
        }
        const tokens = calls * R;
        out.push({
          rows: R,
          layer,
          wireMs: median(wire),
          wireMeanMs: wire.reduce((a, b) => a + b, 0) / wire.length,
          localMs: median(local),
          wireBytesPerToken: (after - before) / tokens,
          payloadBytesPerToken: (routed * D * 4 * 2) / tokens,
        });
      }
    }
  } finally {
    await transport.close();
  }
  return out;
}

function totals(t: ZmqExpertTransport): number {
  return Object.values(t.metrics()).reduce((a: number, m) => {
    const x = (m as { totals: { bytesOut: number; bytesIn: number } }).totals;
    return a + x.bytesOut + x.bytesIn;
  }, 0);
}

function rowsRouted(r: RouterCore, layer: number): number {
  return r.load[layer]!.reduce((a, b) => a + b, 0);
}

/** Router → expert bytes of the stage processes so far, from their control endpoints. */
function stageWire(states: readonly ProcessState[]): { bytes: number; layers: number }[] {
  return states.flatMap((s) => (s.status?.stage && s.status.wire ? [{ bytes: s.status.wire.bytesOut + s.status.wire.bytesIn, layers: s.status.stage.layers[1] - s.status.stage.layers[0] }] : []));
}

export async function run(args: string[] = []): Promise<void> {
  const steps = Number(arg(args, "--steps", "32"));
  const clusterFile = arg(args, "--cluster", "configs/clusters/local.yaml");
  const modelDir = ensureTinyModel();
  const m = openModel(modelDir);
  const cfg = m.config;
  const engine = await Engine.create(cfg, m.weights, { threads: 1 });
  const local = new LocalBackend(engine);
  const runDir = mkdtempSync(join(tmpdir(), "moe-bench-cluster-"));
  const cluster = await launch({ clusterFile, modelPath: modelDir, runDir, gateway: false, loadIntervalMs: 3_600_000 });
  const rt = cluster.runtime;
  const client = new PipelineClient({ endpoints: stageEndpoints(rt), vocabSize: cfg.vocabSize, name: "bench", stepDeadlineMs: 60_000 });
  try {
    console.log(`${cfg.name} (d_model ${cfg.dModel}, ${cfg.nLayers} layers, ${cfg.nExperts} experts, top-${cfg.nExpertsUsed}); cluster ${clusterFile}: ${rt.stages.length} stages, ${Object.keys(rt.expertHosts).length} expert hosts, ${rt.processes.length} processes on 127.0.0.1, wire ${rt.wireDtype}; 1 onnxruntime thread per process; prompt ${PROMPT}, ${steps} timed decode steps after ${WARMUP} warm-up`);
    const rowsOut: [string, string, Rate, Rate | undefined][] = [];
    for (const c of [1, 16]) {
      const single = await decodeRate(local, cfg, c, 1, steps, 10_000 + c * 100);
      rowsOut.push([String(c), "single process", single, undefined]);
      rowsOut.push([String(c), `cluster, 1 batch of ${c}`, await decodeRate(client, cfg, c, 1, steps, 20_000 + c * 100), single]);
      if (c >= rt.stages.length && c % rt.stages.length === 0)
        rowsOut.push([String(c), `cluster, ${rt.stages.length} × ${c / rt.stages.length} in flight`, await decodeRate(client, cfg, c, rt.stages.length, steps, 30_000 + c * 100), single]);
    }
    const wireAfterDecode = stageWire(await clusterStates(cluster));
    console.log("\ndecode (tokens/s over all sequences; ms between two tokens of one sequence)");
    console.log("concurrency  backend                      tokens/s   ms/token   cluster ÷ single");
    for (const [c, name, r, single] of rowsOut)
      console.log(`${c.padStart(11)}  ${name.padEnd(27)}  ${r.tokensPerSecond.toFixed(1).padStart(8)}  ${r.msPerToken.toFixed(2).padStart(9)}   ${single ? (r.tokensPerSecond / single.tokensPerSecond).toFixed(3).padStart(16) : ""}`);

    const calls = 40;
    const moe = await moeRoundTrips(rt, cfg, m.weights, engine, calls);
    console.log(`\none dispatch/combine per layer: a router in this process → ${Object.keys(rt.expertHosts).join(", ")} over ZeroMQ (median of ${calls}) vs the same MoE in-process`);
    console.log("rows  layer   round trip ms (median / mean)   in-process ms   overhead ms   wire B/token   Arrow payload B/token   wire ÷ payload");
    for (const r of moe)
      console.log(
        `${String(r.rows).padStart(4)}  ${String(r.layer).padStart(5)}   ${r.wireMs.toFixed(3).padStart(13)} / ${r.wireMeanMs.toFixed(3).padEnd(12)}   ${r.localMs.toFixed(3).padStart(13)}   ${(r.wireMs - r.localMs).toFixed(3).padStart(11)}   ${r.wireBytesPerToken.toFixed(0).padStart(12)}   ${r.payloadBytesPerToken.toFixed(0).padStart(21)}   ${(r.wireBytesPerToken / r.payloadBytesPerToken).toFixed(3).padStart(14)}`,
      );
    const decodeTokens = rowsOut.filter((r) => r[1].startsWith("cluster")).reduce((a, r) => a + Number(r[0]) * (steps + WARMUP + 1), 0);
    const wireTotal = wireAfterDecode.reduce((a, w) => a + w.bytes, 0);
    const payload = cfg.nExpertsUsed * cfg.dModel * 4 * 2;
    console.log(
      `\nduring the cluster decode runs above (stage routers' transport metrics): ${(wireTotal / (decodeTokens * cfg.nLayers)).toFixed(0)} wire B per token per layer` +
        ` (prompt tokens included: ${(wireTotal / ((decodeTokens + rowsOut.filter((r) => r[1].startsWith("cluster")).reduce((a, r) => a + Number(r[0]) * (PROMPT - 1), 0)) * cfg.nLayers)).toFixed(0)} B per processed token per layer)` +
        ` vs Arrow payload ${payload} B (top-${cfg.nExpertsUsed} × d_model ${cfg.dModel} × 4 B, out and back)`,
    );
  } finally {
    await client.close();
    await cluster.stop();
    await local.close();
    m.close();
    rmSync(runDir, { recursive: true, force: true });
  }
}

/** Every process's status, polled once. */
async function clusterStates(cluster: RunningCluster): Promise<readonly ProcessState[]> {
  const mon = new ClusterMonitor(cluster.runtime, { timeoutMs: 2000 });
  try {
    return await mon.poll();
  } finally {
    await mon.close();
  }
}
