/**
 * `moe serve`: the OpenAI-compatible HTTP gateway over the single-process
 * engine. (`moe up` starts the same gateway over a cluster backend.)
 */
import type { Command } from "commander";
import { pino } from "pino";
import { startGateway } from "../gateway/index.js";
import { defaultThreads, loadServingModel } from "../model/index.js";
import { ensureModelPath } from "../factory/index.js";
import { LocalBackend } from "../stages/index.js";
import { addComputeFlags, computeOptionsOf, parseIntOption, type ComputeFlags } from "./options.js";

interface ServeFlags extends ComputeFlags {
  model?: string;
  host: string;
  port: number;
  apiKey?: string;
  servedModelName?: string;
  maxRunning?: number;
  maxQueued?: number;
  maxBatchTokens?: number;
  maxPromptBytes?: number;
  logLevel: string;
}

export function register(program: Command): void {
  const cmd = program
    .command("serve")
    .description("serve a model over an OpenAI-compatible HTTP API (single process)")
    .option("--model <path>", "model directory or single .gguf file (default: the tiny model, created on first use)")
    .option("--host <addr>", "address to bind (loopback by default; 0.0.0.0 exposes it)", "127.0.0.1")
    .option("--port <n>", "TCP port (0 = any free port)", parseIntOption("--port", 0), 8000)
    .option("--api-key <key>", "require 'Authorization: Bearer <key>' (all endpoints but /health); default: $MOE_API_KEY")
    .option("--served-model-name <name>", "model id clients send and /v1/models lists (default: the model's name)")
    .option("--max-running <n>", "most sequences generating at once (default 64)", parseIntOption("--max-running", 1))
    .option("--max-queued <n>", "most requests waiting; more get 429 (default 256)", parseIntOption("--max-queued", 0))
    .option("--max-batch-tokens <n>", "most tokens per step, prefill chunks included (default 512)", parseIntOption("--max-batch-tokens", 16))
    .option("--max-prompt-bytes <n>", "longest prompt text tokenised, bytes; longer ones get a 400 before any work (default max(64 KiB, 32 × context length))", parseIntOption("--max-prompt-bytes", 1))
    .option("--log-level <level>", "pino log level (stderr): trace, debug, info, warn, error, silent", "info");
  addComputeFlags(cmd)
    .action(async (flags: ServeFlags) => {
      const compute = computeOptionsOf(flags, defaultThreads());
      const logger = pino({ level: flags.logLevel }, pino.destination(2));
      const served = await loadServingModel(ensureModelPath(flags.model), compute);
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
          logger,
        });
      } catch (err) {
        await served.close();
        throw err;
      }
      const name = flags.servedModelName ?? served.config.name;
      const auth = apiKey ? ` -H 'Authorization: Bearer ${apiKey === flags.apiKey ? apiKey : "$MOE_API_KEY"}'` : "";
      console.log(`moe serve: ${name} ready at ${gw.url}/v1  (metrics ${gw.url}/metrics, health ${gw.url}/health; Ctrl-C stops)`);
      console.log(`  curl ${gw.url}/v1/completions -H 'Content-Type: application/json'${auth} -d '{"model": "${name}", "prompt": "The answer is", "max_tokens": 16}'`);
      await new Promise<void>((resolve) => {
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
    });
}
