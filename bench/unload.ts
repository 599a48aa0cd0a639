/**
 * `moe bench unload`: what a re-plan that moves experts off an expert host frees. Per model, one child
 * process loads every (layer, expert) as an expert host does (one layer session per layer), then keeps the
 * first `--keep` experts of each layer (ExpertHost.retainOnly: each layer session rebuilt with the kept
 * experts): its RSS before and after, the resident expert weight bytes, the rebuild time, and whether the
 * kept experts' outputs stayed bit-identical. A second child loads only the kept experts from the start:
 * the RSS the host would have had without the others. Children start with --expose-gc and collect garbage
 * before each reading.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expertWeightBytes, expertWeights, mulberry32, openModel } from "../model/index.js";
import { ExpertHost } from "../stages/index.js";
import { arg } from "./args.js";
import { ensureBenchModel } from "./engine-models.js";
import { benchModelPaths } from "./light.js";

const CHILD_ENV = "MOE_BENCH_UNLOAD_CHILD";

/** What one child measured. */
interface ChildResult {
  readonly mode: "unload" | "fresh";
  readonly experts: number;
  readonly keptExperts: number;
  /** ExpertHost.start: reading the weights, building the sessions, binding, ms. */
  readonly loadMs: number;
  readonly rssBaseBytes: number;
  readonly rssLoadedBytes: number;
  readonly rssAfterBytes?: number;
  readonly residentBefore: number;
  readonly residentAfter?: number;
  readonly rebuildMs?: number;
  readonly rebuiltSessions?: number;
  readonly exact?: boolean;
}

const MiB = 2 ** 20;
const mib = (b: number) => (b / MiB).toFixed(1);

async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 100));
  }
  return process.memoryUsage.rss();
}

async function child(): Promise<void> {
  const { model, keep: k, threads, mode } = JSON.parse(process.env[CHILD_ENV]!) as { model: string; keep: number; threads: number; mode: "unload" | "fresh" };
  const m = openModel(model);
  const { nLayers, nExperts, dModel: D } = m.config;
  const pairs = (n: number) => Array.from({ length: nLayers }, (_, l) => Array.from({ length: n }, (_, e) => [l, e] as [number, number])).flat();
  const kept = pairs(k);
  const rssBaseBytes = await settledRss();
  const t0 = performance.now();
  const h = await ExpertHost.start({ name: "bench", config: m.config, weights: m.weights, experts: mode === "unload" ? pairs(nExperts) : kept, endpoint: "tcp://127.0.0.1:0", compute: { threads } });
  const loadMs = performance.now() - t0;
  try {
    const rssLoadedBytes = await settledRss();
    const residentBefore = h.resident().weightBytes;
    if (mode === "fresh") return send({ mode, experts: kept.length, keptExperts: kept.length, loadMs, rssBaseBytes, rssLoadedBytes, residentBefore });
    // every kept expert of every layer, 4 rows each
    const r = mulberry32(1);
    const rowsOf = Uint32Array.from({ length: 4 * k }, (_, i) => Math.floor(i / 4));
    const x = Float32Array.from({ length: rowsOf.length * D }, () => (r() - 0.5) * 3);
    const before = [];
    for (let l = 0; l < nLayers; l++) before.push(Array.from(await h.batcher.submit(l, x, rowsOf)));
    const report = await h.retainOnly(kept);
    const rssAfterBytes = await settledRss();
    let exact = true;
    for (let l = 0; l < nLayers; l++) exact &&= JSON.stringify(Array.from(await h.batcher.submit(l, x, rowsOf))) === JSON.stringify(before[l]);
    send({ mode, experts: nLayers * nExperts, keptExperts: kept.length, loadMs, rssBaseBytes, rssLoadedBytes, rssAfterBytes, residentBefore, residentAfter: report.residentWeightBytes.after, rebuildMs: report.rebuildMs, rebuiltSessions: report.rebuilt.length, exact });
  } finally {
    await h.close();
    m.close();
  }
}

function send(r: ChildResult): void {
  process.send!(r);
}

function runChild(env: object): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), [], { execArgv: ["--expose-gc"], env: { ...process.env, [CHILD_ENV]: JSON.stringify(env) }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let got: ChildResult | undefined;
    c.on("message", (m) => (got = m as ChildResult));
    c.once("error", reject);
    c.once("exit", (code) => (got ? resolve(got) : reject(new Error(`bench unload: the child for ${JSON.stringify(env)} exited with ${code} before reporting`))));
  });
}

export async function run(args: string[]): Promise<void> {
  const models = benchModelPaths(args);
  if (!models.length) models.push(ensureBenchModel("grok-shaped", "q8_0"), ensureBenchModel("grok-shaped", "f32"));
  const keep = Number(arg(args, "--keep", "4"));
  const threads = Number(arg(args, "--threads", "1"));
  const reps = Number(arg(args, "--reps", "2"));
  const rows: Record<string, unknown>[] = [];
  for (const model of models) {
    const m = openModel(model);
    const { nLayers, nExperts } = m.config;
    const perExpert = expertWeightBytes(expertWeights(m.weights, 0, 0));
    m.close();
    if (!(keep >= 1 && keep < nExperts)) throw new RangeError(`bench unload: --keep ${keep} must be in [1, ${nExperts - 1}] for ${model}`);
    for (let rep = 0; rep < reps; rep++) {
      // interleaved: the host that unloads, then the one that only ever loaded the kept experts
      const u = await runChild({ model, keep, threads, mode: "unload" });
      const f = await runChild({ model, keep, threads, mode: "fresh" });
      rows.push({
        model,
        rep,
        layers: nLayers,
        experts: `${u.experts} → ${u.keptExperts}`,
        "expert MiB (weights as stored, one)": mib(perExpert),
        "resident weights MiB before → after": `${mib(u.residentBefore)} → ${mib(u.residentAfter!)}`,
        "RSS above base MiB: loaded → after unload": `${mib(u.rssLoadedBytes - u.rssBaseBytes)} → ${mib(u.rssAfterBytes! - u.rssBaseBytes)}`,
        "RSS freed MiB": mib(u.rssLoadedBytes - u.rssAfterBytes!),
        "RSS above base MiB, kept experts only from the start": mib(f.rssLoadedBytes - f.rssBaseBytes),
        "load ms all / kept only": `${u.loadMs.toFixed(0)} / ${f.loadMs.toFixed(0)}`,
        "rebuild ms (sessions)": `${u.rebuildMs!.toFixed(1)} (${u.rebuiltSessions})`,
        exact: u.exact,
      });
    }
  }
  if (args.includes("--json")) console.log(JSON.stringify(rows));
  else console.table(rows);
}

if (process.env[CHILD_ENV]) void child().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
