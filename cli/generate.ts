/**
 * `moe generate`: stream text from a model (single process) or, with
 * `--cluster`, from a running cluster.
 */
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { locateRuntime, stageEndpoints } from "../control/index.js";
import { defaultThreads, loadServingModel, loadTokenizerOrIds, openModel, IdsOnlyTokenizer, StreamDecoder, type ModelConfig, type Tokenizer } from "../model/index.js";
import { ensureModelPath } from "../factory/index.js";
import { generate, LocalBackend, PipelineClient, type StepBackend } from "../stages/index.js";
import { clientCurve, loadClusterKeys } from "../transport/index.js";
import { addComputeFlags, computeOptionsOf, parseIds, parseIntOption, parseFloatOption, type ComputeFlags } from "./options.js";

interface GenerateFlags extends ComputeFlags {
  model?: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  topK?: number;
  minP?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  repetitionPenalty?: number;
  prefillChunk: number;
  seed?: number;
  promptIds?: number[];
  json?: boolean;
  logitsOut?: string;
  cluster?: string;
  runDir?: string;
  timing?: boolean;
}

/** `moe generate --cluster`: the same output through a running cluster's pipeline. */
async function generateOnCluster(prompt: string | undefined, flags: GenerateFlags): Promise<void> {
  const t0 = performance.now();
  const runtime = locateRuntime({ cluster: flags.cluster, runDir: flags.runDir });
  // the tokenizer and config come from the cluster's model, or from a local copy of it (--model)
  const m = openModel(flags.model ?? runtime.model.path);
  const config = m.config;
  if (config.vocabSize !== runtime.model.vocabSize || config.dModel !== runtime.model.dModel) {
    m.close();
    throw new Error(`--model ${flags.model}: vocab ${config.vocabSize}, d_model ${config.dModel}; the cluster serves ${runtime.model.name} (vocab ${runtime.model.vocabSize}, d_model ${runtime.model.dModel})`);
  }
  let tokenizer;
  try {
    tokenizer = await loadTokenizerOrIds(m.tokenizer, m.config);
  } finally {
    m.close();
  }
  const keys = runtime.curve ? loadClusterKeys(runtime.curve.keysDir) : undefined;
  const client = new PipelineClient({ endpoints: stageEndpoints(runtime), vocabSize: config.vocabSize, name: "moe-generate", stepDeadlineMs: runtime.timeouts.stepMs, curve: keys ? clientCurve(keys) : undefined });
  try {
    await run(client, config, tokenizer, prompt, flags, t0);
  } finally {
    await client.close();
  }
}

/**
 * The one generation loop over `backend`, printing as the flags ask; with `--timing`, the load time
 * (since `t0`, ms from performance.now()), prefill time and decode tokens/s go to stderr.
 */
async function run(backend: StepBackend, config: ModelConfig, tokenizer: Tokenizer, prompt: string | undefined, flags: GenerateFlags, t0: number): Promise<void> {
  const tLoaded = performance.now();
  const cpuLoaded = process.cpuUsage();
  const times: number[] = [];
  let cpuFirst = cpuLoaded;
  const promptIds = flags.promptIds ?? tokenizer.encode(prompt!);
  const decoder = new StreamDecoder(tokenizer);
  // a model file without a vocabulary: stream the ids themselves
  const idsOnly = tokenizer instanceof IdsOnlyTokenizer;
  if (idsOnly && !flags.json) console.error(`moe: no usable tokenizer (${tokenizer.reason}); printing token ids`);
  const ids: number[] = [];
  const gen = generate(backend, promptIds, {
    maxTokens: flags.maxTokens,
    sampling: {
      temperature: flags.temperature,
      topP: flags.topP,
      ...(flags.topK !== undefined ? { topK: flags.topK } : {}),
      ...(flags.minP !== undefined ? { minP: flags.minP } : {}),
      ...(flags.presencePenalty !== undefined ? { presencePenalty: flags.presencePenalty } : {}),
      ...(flags.frequencyPenalty !== undefined ? { frequencyPenalty: flags.frequencyPenalty } : {}),
      ...(flags.repetitionPenalty !== undefined ? { repetitionPenalty: flags.repetitionPenalty } : {}),
      ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    },
    prefillChunk: flags.prefillChunk,
    stopTokens: [config.eosId],
    contextLength: config.contextLength,
    ...(flags.logitsOut ? { onPromptLogits: (l: Float32Array) => writeFileSync(flags.logitsOut!, new Uint8Array(l.buffer, l.byteOffset, l.byteLength)) } : {}),
  });
  for await (const s of gen) {
    times.push(performance.now());
    if (times.length === 1) cpuFirst = process.cpuUsage();
    ids.push(s.token);
    if (!flags.json) process.stdout.write(idsOnly ? `${s.token} ` : decoder.push(s.token));
  }
  if (flags.json) console.log(JSON.stringify({ prompt_ids: promptIds, ids, text: tokenizer.decode(ids) }));
  else process.stdout.write((idsOnly ? "" : decoder.flush()) + "\n");
  if (flags.timing) {
    const sec = (ms: number) => (ms / 1000).toFixed(2);
    const decode = times.length > 1 ? ((times.length - 1) * 1000) / (times.at(-1)! - times[0]!) : NaN;
    // process CPU time (user + system) of each phase: other processes on the machine do not inflate it
    const cpuS = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
    const cpuEnd = process.cpuUsage();
    const decodeCpuMs = times.length > 1 ? ((cpuS(cpuEnd) - cpuS(cpuFirst)) * 1000) / (times.length - 1) : NaN;
    console.error(
      `moe: load ${sec(tLoaded - t0)} s, prefill ${promptIds.length} tokens ${times.length ? sec(times[0]! - tLoaded) : "-"} s, decode ${Math.max(0, times.length - 1)} tokens at ${decode.toFixed(3)} tokens/s` +
        ` (CPU: load ${cpuS(cpuLoaded).toFixed(1)} s, prefill ${(cpuS(cpuFirst) - cpuS(cpuLoaded)).toFixed(1)} s, decode ${decodeCpuMs.toFixed(0)} ms per token)`,
    );
  }
}

export function register(program: Command): void {
  const cmd = program
    .command("generate")
    .description("generate text from a prompt (greedy when --temperature is 0)")
    .argument("[prompt]", "prompt text (tokenized with the model's tokenizer)")
    .option("--model <path>", "model directory or single .gguf file (default: the tiny model, created on first use); with --cluster: a local copy of the cluster's model for the tokenizer")
    .option("--max-tokens <n>", "most new tokens", parseIntOption("--max-tokens", 1), 64)
    .option("--temperature <t>", "sampling temperature; 0 = greedy", parseFloatOption("--temperature", 0), 0)
    .option("--top-p <p>", "nucleus sampling mass in (0, 1]", parseFloatOption("--top-p", 0), 1)
    .option("--top-k <k>", "keep the k most likely tokens (0 = off)", parseIntOption("--top-k", 0))
    .option("--min-p <p>", "drop tokens less likely than p × the most likely one (0 = off)", parseFloatOption("--min-p", 0))
    .option("--presence-penalty <x>", "subtract x from the logit of every token already generated ([-2, 2])", parseFloatOption("--presence-penalty", -2))
    .option("--frequency-penalty <x>", "subtract x × count from the logit of every token already generated ([-2, 2])", parseFloatOption("--frequency-penalty", -2))
    .option("--repetition-penalty <x>", "divide positive (multiply negative) logits of prompt and generated tokens by x (1 = off)", parseFloatOption("--repetition-penalty", 0))
    .option("--prefill-chunk <n>", "prompt tokens per prefill step", parseIntOption("--prefill-chunk", 1), 512)
    .option("--seed <s>", "sampling seed", parseIntOption("--seed", 0))
    .option("--prompt-ids <ids>", "comma-separated token ids used exactly as given, instead of text", parseIds)
    .option("--json", "print {prompt_ids, ids, text} as JSON instead of streaming text")
    .option("--logits-out <file>", "write the last prompt position's logits (little-endian float32, vocab values)")
    .option("--cluster <file>", "generate through a running cluster: its YAML (run by `moe up`), runtime.json or run directory")
    .option("--run-dir <dir>", "run directory of the cluster (default .moe/run/<cluster>); implies --cluster")
    .option("--timing", "print load time, prefill time and decode tokens/s to stderr");
  addComputeFlags(cmd).action(async (prompt: string | undefined, flags: GenerateFlags) => {
      if (prompt === undefined && !flags.promptIds) throw new Error("give a prompt or --prompt-ids");
      if (flags.cluster !== undefined || flags.runDir !== undefined) {
        return generateOnCluster(prompt, flags);
      }
      const t0 = performance.now();
      const served = await loadServingModel(ensureModelPath(flags.model), computeOptionsOf(flags, defaultThreads()));
      try {
        await run(new LocalBackend(served.engine), served.engine.config, served.tokenizer, prompt, flags, t0);
      } finally {
        await served.close();
      }
    });
}
