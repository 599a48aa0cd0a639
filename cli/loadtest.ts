/** `moe loadtest` (register and option parsers; the action is in loadtest-run.ts). */
import { Option, type Command } from "commander";
import { parseDatasetFormat, parseEndpoint, parseHeader, parseLengthDist, parseLoadList, parseSlo, parseVocabRange } from "../loadtest/light.js";
import { lazy } from "./lazy.js";
import { parseFloatOption, parseIntOption } from "./options.js";

/** commander parser from a function that throws LoadTestOptionError. */
const wrap = <T>(f: (v: string) => T) => (v: string): T => f(v);

export function register(program: Command): void {
  program
    .command("loadtest")
    .description("load-test a gateway (completions or chat; synthetic or dataset prompts; one load or a sweep): TTFT/TPOT/ITL/E2E, throughput, goodput, errors, and server-side stage time and expert skew from /metrics")
    .requiredOption("--url <url>", "gateway base URL, e.g. http://127.0.0.1:8000")
    .option("--model <id>", "model id (default: the first of GET /v1/models)")
    .addOption(new Option("--endpoint <name>", "completions (/v1/completions) or chat (/v1/chat/completions)").argParser(wrap((v) => parseEndpoint(v))).default("completions"))
    .addOption(new Option("--api-key <key>", "send Authorization: Bearer KEY with every request").env("OPENAI_API_KEY"))
    .addOption(new Option("--header <'Name: value'>", "extra request header, sent with every request (repeatable)").argParser((v: string, acc: Array<[string, string]>) => [...acc, parseHeader(v)]).default([], "none"))
    .option("--requests <n>", "requests to send (per point of a sweep)", parseIntOption("--requests", 1), 100)
    .addOption(new Option("--concurrency <c[,c...]>", "closed loop: C workers back to back (default 4); a list sweeps, e.g. 1,4,16").argParser(wrap((v) => parseLoadList(v, "--concurrency"))).conflicts("rate"))
    .option("--rate <r[,r...]>", "open loop: mean arrivals per second (gamma/Poisson), 'inf' for all at once; a list sweeps, e.g. 1,2,4,8", wrap((v) => parseLoadList(v, "--rate")))
    .option("--max-concurrency <n>", "open loop: most requests in flight; later arrivals wait for a free slot", parseIntOption("--max-concurrency", 1))
    .option("--burstiness <b>", "open loop: gamma shape of inter-arrival times; 1 = Poisson, <1 burstier, >1 smoother", parseFloatOption("--burstiness", 0))
    .addOption(new Option("--prompt-tokens <mean[:stddev]>", "synthetic prompt length in tokens ~ normal(mean, stddev), clamped >= 1").argParser(wrap((v) => parseLengthDist(v, "--prompt-tokens"))).default({ mean: 256, stddev: 0 }, "256"))
    .addOption(new Option("--max-tokens <mean[:stddev]>", "max_tokens per request ~ normal(mean, stddev), clamped >= 1 (for a dataset: where it gives no length)").argParser(wrap((v) => parseLengthDist(v, "--max-tokens"))).default({ mean: 128, stddev: 0 }, "128"))
    .option("--dataset <file>", "replay prompts from a ShareGPT JSON or a JSONL file instead of synthesising them")
    .addOption(new Option("--dataset-format <format>", "sharegpt or jsonl (default: jsonl for *.jsonl, else sharegpt)").argParser(wrap((v) => parseDatasetFormat(v))))
    .option("--seed <s>", "seed of prompts, dataset sampling, lengths, arrivals and sampling", parseIntOption("--seed", 0), 0)
    .option("--vocab-range <lo:hi>", "token ids prompts are drawn from, hi exclusive (default 260:2048: past specials and byte pieces, inside grok-1-tiny's vocabulary)", wrap((v) => parseVocabRange(v)))
    .option("--tokenizer <file>", "SentencePiece tokenizer.model: synthetic text prompts from its pieces (needed for --endpoint chat); counts dataset tokens")
    .option("--no-ignore-eos", "let the model stop at EOS (output lengths then vary)")
    .option("--temperature <t>", "sampling temperature", parseFloatOption("--temperature", 0), 1)
    .option("--top-p <p>", "nucleus sampling mass", parseFloatOption("--top-p", 0), 1)
    .option("--timeout <s>", "per-request timeout, seconds", parseFloatOption("--timeout", 0.001), 300)
    .option("--slo <list>", "goodput objectives, e.g. ttft:500,tpot:50[,e2el:10000] (milliseconds)", wrap((v) => parseSlo(v)))
    .option("--no-metrics", "do not scrape the gateway's /metrics")
    .option("--metrics-interval <s>", "seconds between /metrics scrapes during the run (0: before and after only)", parseFloatOption("--metrics-interval", 0), 1)
    .option("--warmup <n>", "untimed requests before the run, or before every point of a sweep (default 0; 1 per point in a sweep)", parseIntOption("--warmup", 0))
    .option("--out <file>", "write the JSON report here")
    .option("--html <file>", "write the self-contained HTML report here")
    .option("--no-progress", "no progress bar (it is shown only on a terminal outside CI anyway)")
    .action(lazy(async () => (await import("./loadtest-run.js")).action));
}
