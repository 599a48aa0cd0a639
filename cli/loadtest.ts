/**
 * `moe loadtest`: drive synthetic load against a gateway, print a summary, and write the JSON
 * and self-contained HTML reports.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Option, type Command } from "commander";
import {
  createProgress, formatSummary, parseLengthDist, parseRate, parseSlo, parseVocabRange, progressWanted, renderHtml, runLoadTest, serializeReport,
  type LengthDist, type Slo, type VocabRange,
} from "../loadtest/index.js";
import { parseFloatOption, parseIntOption } from "./options.js";

interface LoadtestFlags {
  url: string;
  model?: string;
  requests: number;
  concurrency?: number;
  rate?: number;
  burstiness?: number;
  promptTokens: LengthDist;
  maxTokens: LengthDist;
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
  warmup: number;
  out?: string;
  html?: string;
  progress: boolean;
}

/** commander parser from a function that throws LoadTestOptionError. */
const wrap = <T>(f: (v: string) => T) => (v: string): T => f(v);

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

export function register(program: Command): void {
  program
    .command("loadtest")
    .description("load-test a gateway: TTFT/TPOT/ITL/E2E, throughput, goodput, errors, and server-side stage time and expert skew from /metrics")
    .requiredOption("--url <url>", "gateway base URL, e.g. http://127.0.0.1:8000")
    .option("--model <id>", "model id (default: the first of GET /v1/models)")
    .option("--requests <n>", "requests to send", parseIntOption("--requests", 1), 100)
    .addOption(new Option("--concurrency <c>", "closed loop: C workers back to back (default 4)").argParser(parseIntOption("--concurrency", 1)).conflicts("rate"))
    .option("--rate <r>", "open loop: mean arrivals per second (gamma/Poisson), or 'inf' for all at once", wrap((v) => parseRate(v)))
    .option("--burstiness <b>", "open loop: gamma shape of inter-arrival times; 1 = Poisson, <1 burstier, >1 smoother", parseFloatOption("--burstiness", 0))
    .addOption(new Option("--prompt-tokens <mean[:stddev]>", "prompt length in tokens ~ normal(mean, stddev), clamped >= 1").argParser(wrap((v) => parseLengthDist(v, "--prompt-tokens"))).default({ mean: 256, stddev: 0 }, "256"))
    .addOption(new Option("--max-tokens <mean[:stddev]>", "max_tokens per request ~ normal(mean, stddev), clamped >= 1").argParser(wrap((v) => parseLengthDist(v, "--max-tokens"))).default({ mean: 128, stddev: 0 }, "128"))
    .option("--seed <s>", "seed of prompts, lengths, arrivals and sampling", parseIntOption("--seed", 0), 0)
    .option("--vocab-range <lo:hi>", "token ids prompts are drawn from, hi exclusive (default 260:2048: past specials and byte pieces, inside grok-1-tiny's vocabulary)", wrap((v) => parseVocabRange(v)))
    .option("--tokenizer <file>", "SentencePiece tokenizer.model: send text prompts built from its normal pieces")
    .option("--no-ignore-eos", "let the model stop at EOS (output lengths then vary)")
    .option("--temperature <t>", "sampling temperature", parseFloatOption("--temperature", 0), 1)
    .option("--top-p <p>", "nucleus sampling mass", parseFloatOption("--top-p", 0), 1)
    .option("--timeout <s>", "per-request timeout, seconds", parseFloatOption("--timeout", 0.001), 300)
    .option("--slo <list>", "goodput objectives, e.g. ttft:500,tpot:50[,e2el:10000] (milliseconds)", wrap((v) => parseSlo(v)))
    .option("--no-metrics", "do not scrape the gateway's /metrics")
    .option("--metrics-interval <s>", "seconds between /metrics scrapes during the run (0: before and after only)", parseFloatOption("--metrics-interval", 0), 1)
    .option("--warmup <n>", "untimed requests sent one at a time before the run", parseIntOption("--warmup", 0), 0)
    .option("--out <file>", "write the JSON report here")
    .option("--html <file>", "write the self-contained HTML report here")
    .option("--no-progress", "no progress bar (it is shown only on a terminal outside CI anyway)")
    .action(async (flags: LoadtestFlags) => {
      const stop = new AbortController();
      const onSigint = (): void => {
        if (stop.signal.aborted) process.exit(130);
        process.stderr.write("\nmoe loadtest: stopping (Ctrl-C again to quit now); the report covers what ran\n");
        stop.abort();
      };
      process.on("SIGINT", onSigint);
      const bar = createProgress(flags.progress && progressWanted(process.stderr.isTTY, process.env), flags.requests, process.stderr);
      try {
        const report = await runLoadTest({
          url: flags.url, model: flags.model, requests: flags.requests, concurrency: flags.concurrency, rate: flags.rate, burstiness: flags.burstiness,
          promptTokens: flags.promptTokens, maxTokens: flags.maxTokens, seed: flags.seed, vocabRange: flags.vocabRange, tokenizer: flags.tokenizer,
          ignoreEos: flags.ignoreEos, temperature: flags.temperature, topP: flags.topP, timeoutS: flags.timeout, slo: flags.slo,
          scrapeMetrics: flags.metrics, metricsIntervalS: flags.metricsInterval, warmup: flags.warmup, signal: stop.signal,
          onProgress: (p) => bar.update(p),
        });
        bar.stop();
        console.log(formatSummary(report));
        if (flags.out) {
          write(flags.out, serializeReport(report));
          console.error(`JSON report: ${flags.out}`);
        }
        if (flags.html) {
          write(flags.html, renderHtml(report));
          console.error(`HTML report: ${flags.html}`);
        }
        if (report.summary.completed === 0) {
          console.error("moe loadtest: no request completed (see the errors above)");
          process.exitCode = 1;
        }
      } finally {
        bar.stop();
        process.off("SIGINT", onSigint);
      }
    });
}
