/**
 * `npm run bench -- serve`: the load tester against the local cluster
 * (configs/clusters/local.yaml) and against the single-process gateway on the
 * same weights, at concurrency 1, 4 and 16: output tokens/s, TTFT p50/p99,
 * ITL p50/p99 — next to the single-process engine's raw decode tokens/s.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launch } from "../control/index.js";
import { startGateway } from "../gateway/index.js";
import { runLoadTest } from "../loadtest/index.js";
import { loadServingModel, type Engine } from "../model/index.js";
import { ensureModelPath } from "../factory/index.js";
import { LocalBackend } from "../stages/index.js";

const CONCURRENCY = [1, 4, 16];
const PROMPT = "32:0";
const OUTPUT = "32:0";

interface Row {
  target: string;
  concurrency: number;
  tokPerS: number;
  ttftP50: number;
  ttftP99: number;
  itlP50: number;
  itlP99: number;
}

async function loadRows(target: string, url: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of CONCURRENCY) {
    const r = await runLoadTest({ url, requests: Math.max(8, 4 * c), concurrency: c, promptTokens: PROMPT, maxTokens: OUTPUT, temperature: 0, seed: 7, warmup: 1, scrapeMetrics: false });
    rows.push({
      target,
      concurrency: c,
      tokPerS: r.summary.outputTokenThroughput,
      ttftP50: r.latencyMs.ttft.p50,
      ttftP99: r.latencyMs.ttft.p99,
      itlP50: r.latencyMs.itl.p50,
      itlP99: r.latencyMs.itl.p99,
    });
  }
  return rows;
}

/** Raw engine decode tokens/s at batch B (no HTTP, no scheduler). */
async function engineDecode(engine: Engine, batch: number): Promise<number> {
  const seqs = Array.from({ length: batch }, () => engine.newSequence());
  await engine.forward(seqs.map((seq, b) => ({ seq, tokens: Array.from({ length: 32 }, (_, i) => 300 + ((b * 7 + i) % 1000)) })));
  const steps = 32;
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) await engine.forward(seqs.map((seq, b) => ({ seq, tokens: [400 + ((b + s) % 900)] })));
  const tps = (batch * steps) / ((performance.now() - t0) / 1000);
  seqs.forEach((s) => engine.release(s));
  return tps;
}

export async function run(): Promise<void> {
  const served = await loadServingModel(ensureModelPath(), { threads: 1 });
  const engineRows = [];
  for (const b of CONCURRENCY) engineRows.push({ batch: b, tps: await engineDecode(served.engine, b) });
  const gw = await startGateway({ backend: new LocalBackend(served.engine), tokenizer: served.tokenizer, config: served.config, modelName: "grok-1-tiny", port: 0 });
  let rows: Row[];
  try {
    rows = await loadRows("single process", gw.url);
  } finally {
    await gw.close();
    await served.close();
  }
  const runDir = mkdtempSync(join(tmpdir(), "moe-bench-serve-"));
  const cluster = await launch({ clusterFile: "configs/clusters/local.yaml", gatewayPort: 0, runDir });
  try {
    rows = rows.concat(await loadRows("local.yaml cluster", cluster.gatewayUrl!));
  } finally {
    await cluster.stop("bench finished");
    rmSync(runDir, { recursive: true, force: true });
  }
  console.log(`prompt ${PROMPT} tokens, output ${OUTPUT} tokens, greedy; times in ms`);
  console.log("engine decode (no HTTP): " + engineRows.map((r) => `batch ${r.batch}: ${r.tps.toFixed(0)} tok/s`).join(", "));
  console.log("target               conc  output tok/s  TTFT p50  TTFT p99  ITL p50  ITL p99");
  for (const r of rows)
    console.log(
      `${r.target.padEnd(20)} ${String(r.concurrency).padStart(4)}  ${r.tokPerS.toFixed(1).padStart(12)}  ${r.ttftP50.toFixed(1).padStart(8)}  ${r.ttftP99.toFixed(1).padStart(8)}  ${r.itlP50.toFixed(1).padStart(7)}  ${r.itlP99.toFixed(1).padStart(7)}`,
    );
  for (const c of CONCURRENCY) {
    const a = rows.find((r) => r.target === "single process" && r.concurrency === c)!;
    const b = rows.find((r) => r.target !== "single process" && r.concurrency === c)!;
    console.log(`concurrency ${c}: cluster / single-process output tok/s = ${(b.tokPerS / a.tokPerS).toFixed(2)}`);
  }
}
