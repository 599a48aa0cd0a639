/**
 * `moe generate`: stream text from a model (single process) or, with
 * `--cluster`, from a running cluster.
 */
import { writeFileSync } from "node:fs";
import { defaultThreads, loadServingModel, loadTokenizerOrIds, openModel, IdsOnlyTokenizer, reexecWithHugePages, StreamDecoder, type ModelConfig, type Tokenizer } from "../model/index.js";
import { ensureModelPath } from "../factory/index.js";
import { generate, LocalBackend, PipelineClient, type StepBackend } from "../stages/index.js";
import { clientCurve, loadClusterKeys } from "../transport/index.js";
import { computeOptionsOf, type ComputeFlags } from "./options.js";

interface GenerateFlags extends ComputeFlags {
  model?: string;
  /** false with --no-huge-pages. */
  hugePages?: boolean;
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
  // control/ (the launcher, NATS, ...) only for --cluster: a local run does not load it
  const { locateRuntime, stageEndpoints } = await import("../control/index.js");
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

/** The action of `moe generate`. */
export const action = async (prompt: string | undefined, flags: GenerateFlags) => {
  if (prompt === undefined && !flags.promptIds) throw new Error("give a prompt or --prompt-ids");
  if (flags.cluster !== undefined || flags.runDir !== undefined) {
    return generateOnCluster(prompt, flags);
  }
  const modelPath = ensureModelPath(flags.model);
  if (await reexecWithHugePages(modelPath, flags.hugePages !== false)) return;
  const t0 = performance.now();
  const served = await loadServingModel(modelPath, computeOptionsOf(flags, defaultThreads()));
  try {
    await run(new LocalBackend(served.engine), served.engine.config, served.tokenizer, prompt, flags, t0);
  } finally {
    await served.close();
  }
};
