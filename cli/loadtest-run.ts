/**
 * `moe loadtest`: drive load against a gateway (one load, or a sweep over `--rate` /
 * `--concurrency` lists), print a summary, and write the JSON and self-contained HTML reports.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  createProgress, formatSummary, formatSweepSummary,
  progressWanted, renderHtml, renderSweepHtml, runLoadTest, runSweep, serializeReport,
  type DatasetFormat, type Endpoint, type LengthDist, type LoadTestReport, type Slo, type SweepReport, type VocabRange,
} from "../loadtest/index.js";

interface LoadtestFlags {
  url: string;
  model?: string;
  endpoint: Endpoint;
  apiKey?: string;
  header: Array<[string, string]>;
  requests: number;
  concurrency?: number[];
  rate?: number[];
  maxConcurrency?: number;
  burstiness?: number;
  promptTokens: LengthDist;
  maxTokens: LengthDist;
  dataset?: string;
  datasetFormat?: DatasetFormat;
  seed: number;
  vocabRange?: VocabRange;
  tokenizer?: string;
  ignoreEos: boolean;
  temperature: number;
  topP: number;
  timeout: number;
  slo?: Slo;
  metrics: boolean;
  metricsInterval: number;
  warmup?: number;
  out?: string;
  html?: string;
  progress: boolean;
}

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** Run what the flags ask for: one load, or a sweep when `--rate`/`--concurrency` lists several. */
async function run(flags: LoadtestFlags, signal: AbortSignal): Promise<{ report: LoadTestReport | SweepReport; completed: number }> {
  const list = flags.rate ?? flags.concurrency;
  const points = list?.length ?? 1;
  const bar = createProgress(flags.progress && progressWanted(process.stderr.isTTY, process.env), flags.requests * points, process.stderr);
  const common = {
    url: flags.url, model: flags.model, endpoint: flags.endpoint, apiKey: flags.apiKey, headers: Object.fromEntries(flags.header), requests: flags.requests,
    burstiness: flags.burstiness, maxConcurrency: flags.maxConcurrency, promptTokens: flags.promptTokens, maxTokens: flags.maxTokens,
    dataset: flags.dataset, datasetFormat: flags.datasetFormat, seed: flags.seed, vocabRange: flags.vocabRange, tokenizer: flags.tokenizer,
    ignoreEos: flags.ignoreEos, temperature: flags.temperature, topP: flags.topP, timeoutS: flags.timeout, slo: flags.slo,
    scrapeMetrics: flags.metrics, metricsIntervalS: flags.metricsInterval, warmup: flags.warmup, signal,
  };
  try {
    if (points > 1) {
      const sweep = await runSweep({
        ...common, rates: flags.rate, concurrencies: flags.concurrency,
        onPoint: (i, load) => process.stderr.isTTY || process.stderr.write(`moe loadtest: point ${i + 1}/${points}: ${load.mode === "open" ? `${load.rate} req/s` : `${load.concurrency} workers`}\n`),
        onProgress: (i, p) => bar.update({ ...p, total: flags.requests * points, done: i * flags.requests + p.done }),
      });
      bar.stop();
      console.log(formatSweepSummary(sweep));
      return { report: sweep, completed: sweep.curve.reduce((a, c) => a + c.completed, 0) };
    }
    const report = await runLoadTest({ ...common, rate: flags.rate?.[0], concurrency: flags.concurrency?.[0], onProgress: (p) => bar.update(p) });
    bar.stop();
    console.log(formatSummary(report));
    return { report, completed: report.summary.completed };
  } finally {
    bar.stop();
  }
}

/** The action of `moe loadtest`. */
export const action = async (flags: LoadtestFlags) => {
  const stop = new AbortController();
  const onSigint = (): void => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write("\nmoe loadtest: stopping (Ctrl-C again to quit now); the report covers what ran\n");
    stop.abort();
  };
  process.on("SIGINT", onSigint);
  try {
    const { report, completed } = await run(flags, stop.signal);
    if (flags.out) {
      write(flags.out, serializeReport(report));
      console.error(`JSON report: ${flags.out}`);
    }
    if (flags.html) {
      write(flags.html, "curve" in report ? renderSweepHtml(report) : renderHtml(report));
      console.error(`HTML report: ${flags.html}`);
    }
    if (completed === 0) {
      console.error("moe loadtest: no request completed (see the errors above)");
      process.exitCode = 1;
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
};
