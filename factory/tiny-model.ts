/**
 * The default model: grok-1-tiny (seed 0, GGUF, f32) in `<repo>/.moe/models/grok-1-tiny`,
 * generated on first use.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ModelConfigError, presetConfig } from "../model/index.js";
import { generateModel } from "./generate.js";

/** The repository root (the nearest folder above this module holding package.json). */
function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(d, "package.json"))) return d;
    const up = dirname(d);
    if (up === d) return process.cwd();
    d = up;
  }
}

/** Where the engine keeps the generated grok-1-tiny model: `<repo>/.moe/models/grok-1-tiny` (gitignored). */
export const DEFAULT_TINY_MODEL_DIR: string = join(repoRoot(), ".moe", "models", "grok-1-tiny");

const TINY_FILES = ["config.json", "model.gguf", "tokenizer.model"];

/**
 * The model path to serve: `path` as given, or the generated grok-1-tiny (created on first use) when
 * `path` is undefined or is the tiny model's default location.
 */
export function ensureModelPath(path?: string): string {
  if (path === undefined) return ensureTinyModel(DEFAULT_TINY_MODEL_DIR);
  if (resolve(path) === resolve(DEFAULT_TINY_MODEL_DIR)) ensureTinyModel(path);
  return path;
}

/**
 * Make sure `dir` holds the grok-1-tiny model (seed 0, GGUF, f32), generating
 * it on first use. Safe against concurrent callers: the model is written to a
 * temporary sibling directory and renamed into place.
 * @returns the model directory
 */
export function ensureTinyModel(dir: string = DEFAULT_TINY_MODEL_DIR): string {
  const target = resolve(dir);
  const complete = () => TINY_FILES.every((f) => existsSync(join(target, f)));
  if (complete()) return target;
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  try {
    generateModel({ config: presetConfig("grok-1-tiny"), outDir: tmp, format: "gguf", dtype: "f32", seed: 0 });
    try {
      renameSync(tmp, target);
    } catch (e) {
      if (!complete())
        throw new ModelConfigError(`${target}: exists but does not hold a complete model (${TINY_FILES.join(", ")})`, {
          file: target,
          cause: e,
          fix: `delete ${target} and retry`,
        });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return target;
}
