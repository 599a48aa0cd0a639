/**
 * `moe generate`: stream text from a model (single process) or, with
 * `--cluster`, from a running cluster.
 */
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { generate, loadServingModel, defaultModelPath, StreamDecoder, type Sampled } from "../model/index.js";
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
}

export function register(program: Command): void {
  program
    .command("generate")
    .description("generate text from a prompt (greedy when --temperature is 0)")
    .argument("[prompt]", "prompt text (tokenized with the model's tokenizer)")
    .option("--model <path>", "model directory or single .gguf file (default: the tiny model, created on first use)")
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
    .action(async (prompt: string | undefined, flags: GenerateFlags) => {
      if (prompt === undefined && !flags.promptIds) throw new Error("give a prompt or --prompt-ids");
      if (flags.executionProvider !== "cpu" && flags.executionProvider !== "cuda") throw new Error(`--execution-provider must be cpu or cuda, got '${flags.executionProvider}'`);
      const served = await loadServingModel(flags.model ?? defaultModelPath(), {
        threads: flags.threads,
        executionProvider: flags.executionProvider,
        int8Activations: flags.int8Activations,
      });
      try {
        const { engine, tokenizer } = served;
        const promptIds = flags.promptIds ?? tokenizer.encode(prompt!);
        const decoder = new StreamDecoder(tokenizer);
        const ids: number[] = [];
        const gen = generate(engine, promptIds, {
          maxTokens: flags.maxTokens,
          sampling: { temperature: flags.temperature, topP: flags.topP, seed: flags.seed },
          onPromptLogits: (l) => flags.logitsOut && writeFileSync(flags.logitsOut, new Uint8Array(l.buffer, l.byteOffset, l.byteLength)),
        });
        for await (const s of gen as AsyncIterable<Sampled>) {
          ids.push(s.token);
          if (!flags.json) process.stdout.write(decoder.push(s.token));
        }
        if (flags.json) console.log(JSON.stringify({ prompt_ids: promptIds, ids, text: tokenizer.decode(ids) }));
        else process.stdout.write(decoder.flush() + "\n");
      } finally {
        await served.close();
      }
    });
}
