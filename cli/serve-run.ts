/**
 * `moe serve`: the OpenAI-compatible HTTP gateway over the single-process
 * engine. (`moe up` starts the same gateway over a cluster backend.)
 */
import { pino } from "pino";
import { startGateway } from "../gateway/index.js";
import { defaultThreads, loadServingModel, reexecWithHugePages } from "../model/index.js";
import { ensureModelPath } from "../factory/index.js";
import { LocalBackend } from "../stages/index.js";
import { computeOptionsOf, type ComputeFlags } from "./options.js";

interface ServeFlags extends ComputeFlags {
  model?: string;
  /** false with --no-huge-pages. */
  hugePages?: boolean;
  host: string;
  port: number;
  apiKey?: string;
  servedModelName?: string;
  maxRunning?: number;
  maxQueued?: number;
  maxBatchTokens?: number;
  maxPromptBytes?: number;
  warmupPasses: number;
  logLevel: string;
}

/** The action of `moe serve`. */
export const action = async (flags: ServeFlags) => {
  const compute = computeOptionsOf(flags, defaultThreads());
  const modelPath = ensureModelPath(flags.model);
  if (await reexecWithHugePages(modelPath, flags.hugePages !== false)) return;
  const logger = pino({ level: flags.logLevel }, pino.destination(2));
  const served = await loadServingModel(modelPath, compute);
  const apiKey = flags.apiKey ?? process.env.MOE_API_KEY;
  let gw;
  try {
    gw = await startGateway({
      backend: new LocalBackend(served.engine),
      tokenizer: served.tokenizer,
      tokenizerSource: served.tokenizerSource,
      ...(flags.maxPromptBytes !== undefined ? { maxPromptBytes: flags.maxPromptBytes } : {}),
      config: served.config,
      modelName: flags.servedModelName ?? served.config.name,
      host: flags.host,
      port: flags.port,
      apiKey,
      limits: { maxRunningSequences: flags.maxRunning, maxQueued: flags.maxQueued, maxBatchTokens: flags.maxBatchTokens },
      expertLoad: () => served.engine.moe.counts,
      warmup: { passes: flags.warmupPasses },
      logger,
    });
  } catch (err) {
    await served.close();
    throw err;
  }
  const name = flags.servedModelName ?? served.config.name;
  const auth = apiKey ? ` -H 'Authorization: Bearer ${apiKey === flags.apiKey ? apiKey : "$MOE_API_KEY"}'` : "";
  // the signal handlers are in place before the ready line: a supervisor may stop us as soon as it reads it
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      console.error(`moe serve: ${signal}: shutting down`);
      gw
        .close()
        .then(() => served.close())
        .finally(() => resolve());
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  if (gw.warmup) console.log(`moe serve: warmed up: ${gw.warmup.passes} passes of ${gw.warmup.sequences} requests in ${gw.warmup.seconds.toFixed(1)} s`);
  console.log(`moe serve: ${name} ready at ${gw.url}/v1  (metrics ${gw.url}/metrics, health ${gw.url}/health; Ctrl-C stops)`);
  console.log(`  curl ${gw.url}/v1/completions -H 'Content-Type: application/json'${auth} -d '{"model": "${name}", "prompt": "The answer is", "max_tokens": 16}'`);
  await stopped;
};
