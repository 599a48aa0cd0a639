/** `moe model init|convert|slice|inspect` (register; the actions are in model-run.ts). */
import { Option, type Command } from "commander";
import { PRESETS } from "../model/light.js";
import { lazy } from "./lazy.js";
import { parseIntOption } from "./options.js";

/** Attach `moe model init|inspect` to `program`. */
export function register(program: Command): void {
  const model = program.command("model").description("create and inspect model files (GGUF, safetensors)");
  model
    .command("init")
    .description("write a deterministic random model: config.json, model.gguf|model.safetensors, tokenizer.model")
    .addOption(new Option("--preset <name>", "model preset").choices(Object.keys(PRESETS)).default("grok-1-tiny"))
    .requiredOption("--out <dir>", "output directory (created if needed)")
    .option("--config <file.json>", "model config.json to use instead of the preset (camelCase or the reference's snake_case)")
    .addOption(new Option("--format <format>", "weight file format").choices(["gguf", "safetensors"]).default("gguf"))
    .addOption(new Option("--dtype <dtype>", "weight dtype (q8_0 needs gguf; norms and router stay f32)").choices(["f32", "f16", "q8_0"]).default("f32"))
    .option("--seed <n>", "random seed (uint32); same seed, same bytes", parseIntOption("--seed", 0), 0)
    .option("--layers <n>", "number of decoder layers (default: the preset's or config's): full width, fewer layers", parseIntOption("--layers", 1))
    .option("--tokenizer <tokenizer.model>", "a SentencePiece tokenizer.model to ship (needed past 65536 pieces, e.g. grok-1's)")
    .action(lazy(async () => (await import("./model-run.js")).initAction));
  model
    .command("convert")
    .description("write a model (xAI checkpoint dir, GGUF or split set, safetensors dir) as one GGUF file")
    .requiredOption("--from <path>", "model directory (e.g. one holding xAI's ckpt-0/ and tokenizer.model) or .gguf file")
    .requiredOption("--to <file.gguf>", "GGUF file to write")
    .addOption(new Option("--dtype <dtype>", "matrices as q8_0 (int8 checkpoints copy exactly), f16 or f32; norms and router stay f32").choices(["q8_0", "f16", "f32"]).default("q8_0"))
    .action(lazy(async () => (await import("./model-run.js")).convertAction));
  model
    .command("slice")
    .description("write one GGUF per host of a cluster plan holding exactly the tensors and expert rows that host serves (DIR/<host>.gguf)")
    .requiredOption("--plan <plan.json>", "plan from `moe plan --out` (stages, routers, experts)")
    .requiredOption("--out <dir>", "directory for the parts (created)")
    .option("--model <path>", "the whole model (default: the plan's model source)")
    .action(lazy(async () => (await import("./model-run.js")).sliceAction));
  model
    .command("inspect")
    .description("print a model's architecture, config, tensors (name, shape, dtype, bytes) and parameter counts")
    .argument("<path>", "model directory (GGUF, safetensors or xAI ckpt-0/), .gguf or .safetensors file")
    .option("--json", "print JSON instead of text")
    .action(lazy(async () => (await import("./model-run.js")).inspectAction));
}
