/**
 * `moe generate`: stream text from a model (single process) or, with
 * `--cluster`, from a running cluster.
 */
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { locateRuntime, stageEndpoints } from "../control/index.js";
import { loadServingModel, loadTokenizerOrIds, openModel, IdsOnlyTokenizer, StreamDecoder, type ModelConfig, type Tokenizer } from "../model/index.js";
import { ensureModelPath } from "../factory/index.js";
import { generate, LocalBackend, PipelineClient, type StepBackend } from "../stages/index.js";
import { clientCurve, loadClusterKeys } from "../transport/index.js";
import { parseIds, parseIntOption, parseFloatOption } from "./options.js";

interface GenerateFlags {
  model?: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  seed?: number;
  promptIds?: number[];
  json?: boolean;
  logitsOut?: string;
  threads?: number;
  executionProvider: "cpu" | "cuda";
  int8Activations?: boolean;
  dequantizeQ8?: boolean;
  cluster?: string;
  runDir?: string;
}

/** `moe generate --cluster`: the same output through a running cluster's pipeline. */
async function generateOnCluster(prompt: string | undefined, flags: GenerateFlags): Promise<void> {
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
    await run(client, config, tokenizer, prompt, flags);
  } finally {
    await client.close();
  }
}

/** The one generation loop over `backend`, printing as the flags ask. */
async function run(backend: StepBackend, config: ModelConfig, tokenizer: Tokenizer, prompt: string | undefined, flags: GenerateFlags): Promise<void> {
  const promptIds = flags.promptIds ?? tokenizer.encode(prompt!);
  const decoder = new StreamDecoder(tokenizer);
  // a model file without a vocabulary: stream the ids themselves
  const idsOnly = tokenizer instanceof IdsOnlyTokenizer;
  if (idsOnly && !flags.json) console.error(`moe: no usable tokenizer (${tokenizer.reason}); printing token ids`);
  const ids: number[] = [];
  const gen = generate(backend, promptIds, {
    maxTokens: flags.maxTokens,
    sampling: { temperature: flags.temperature, topP: flags.topP, ...(flags.seed !== undefined ? { seed: flags.seed } : {}) },
    stopTokens: [config.eosId],
    contextLength: config.contextLength,
    ...(flags.logitsOut ? { onPromptLogits: (l: Float32Array) => writeFileSync(flags.logitsOut!, new Uint8Array(l.buffer, l.byteOffset, l.byteLength)) } : {}),
  });
  for await (const s of gen) {
    ids.push(s.token);
    if (!flags.json) process.stdout.write(idsOnly ? `${s.token} ` : decoder.push(s.token));
  }
  if (flags.json) console.log(JSON.stringify({ prompt_ids: promptIds, ids, text: tokenizer.decode(ids) }));
  else process.stdout.write((idsOnly ? "" : decoder.flush()) + "\n");
}

export function register(program: Command): void {
  program
    .command("generate")
    .description("generate text from a prompt (greedy when --temperature is 0)")
    .argument("[prompt]", "prompt text (tokenized with the model's tokenizer)")
    .option("--model <path>", "model directory or single .gguf file (default: the tiny model, created on first use); with --cluster: a local copy of the cluster's model for the tokenizer")
    .option("--max-tokens <n>", "most new tokens", parseIntOption("--max-tokens", 1), 64)
    .option("--temperature <t>", "sampling temperature; 0 = greedy", parseFloatOption("--temperature", 0), 0)
    .option("--top-p <p>", "nucleus sampling mass in (0, 1]", parseFloatOption("--top-p", 0), 1)
    .option("--seed <s>", "sampling seed", parseIntOption("--seed", 0))
    .option("--prompt-ids <ids>", "comma-separated token ids used exactly as given, instead of text", parseIds)
    .option("--json", "print {prompt_ids, ids, text} as JSON instead of streaming text")
    .option("--logits-out <file>", "write the last prompt position's logits (little-endian float32, vocab values)")
    .option("--threads <n>", "onnxruntime intra-op threads", parseIntOption("--threads", 1))
    .option("--execution-provider <ep>", "cpu or cuda", "cpu")
    .option("--int8-activations", "let MatMulNBits quantize activations to int8 (faster, not lossless)")
    .option("--dequantize-q8", "expand Q8_0 weights to f32 at load: same numbers, 4.25x the weight memory, faster on CPU")
    .option("--cluster <file>", "generate through a running cluster: its YAML (run by `moe up`), runtime.json or run directory")
    .option("--run-dir <dir>", "run directory of the cluster (default .moe/run/<cluster>); implies --cluster")
    .action(async (prompt: string | undefined, flags: GenerateFlags) => {
      if (prompt === undefined && !flags.promptIds) throw new Error("give a prompt or --prompt-ids");
      if (flags.cluster !== undefined || flags.runDir !== undefined) {
        return generateOnCluster(prompt, flags);
      }
      if (flags.executionProvider !== "cpu" && flags.executionProvider !== "cuda") throw new Error(`--execution-provider must be cpu or cuda, got '${flags.executionProvider}'`);
      const served = await loadServingModel(ensureModelPath(flags.model), {
        threads: flags.threads,
        executionProvider: flags.executionProvider,
        int8Activations: flags.int8Activations,
        dequantizeQ8: flags.dequantizeQ8,
      });
      try {
        await run(new LocalBackend(served.engine), served.engine.config, served.tokenizer, prompt, flags);
      } finally {
        await served.close();
      }
    });
}
