/** openModel: directories, single GGUF files, and the errors a user meets. */
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfigJson, ModelConfigError, ModelError, openModel } from "../../model/index.js";
import { REF_CONFIG, REF_F32, REF_ST, tempDirs } from "./helpers.js";

const tmp = tempDirs("moe-open-");
afterAll(() => tmp.cleanup());

function expectModelError(fn: () => unknown, ...parts: Array<string | RegExp>): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ModelError);
  for (const p of parts) typeof p === "string" ? expect((err as Error).message).toContain(p) : expect((err as Error).message).toMatch(p);
}

/** A directory with the reference weights, config.json and an (empty) tokenizer.model. */
function refDir(weights: string = REF_ST): string {
  const d = tmp.make();
  copyFileSync(weights, path.join(d, path.basename(weights)));
  copyFileSync(REF_CONFIG, path.join(d, "config.json"));
  writeFileSync(path.join(d, "tokenizer.model"), "");
  return d;
}

describe("openModel", () => {
  it("a safetensors directory: config.json is the config, tokenizer.model the tokenizer", () => {
    const d = refDir();
    const m = openModel(d);
    try {
      expect(m.dir).toBe(d);
      expect(m.config).toEqual(loadConfigJson(REF_CONFIG));
      expect(m.tokenizer).toEqual({ kind: "spm-file", path: path.join(d, "tokenizer.model"), addBos: false });
      expect(m.weights.tensors().length).toBe(38);
    } finally {
      m.close();
    }
  });

  it("a GGUF directory: config.json wins when present, GGUF metadata is used without it", () => {
    const d = refDir(REF_F32);
    const m = openModel(d);
    expect(m.config.addBos).toBe(false); // from config.json
    m.close();
    rmSync(path.join(d, "config.json"));
    const g = openModel(d);
    expect(g.config.addBos).toBe(true); // from GGUF metadata
    expect(g.tokenizer.kind).toBe("spm-file");
    g.close();
  });

  it("missing path", () => {
    const p = path.join(tmp.make(), "nowhere");
    expectModelError(() => openModel(p), p, "does not exist");
  });

  it("directory without weights", () => {
    const d = tmp.make();
    expectModelError(() => openModel(d), d, "no weight file");
  });

  it("several weight files", () => {
    const d = refDir();
    copyFileSync(REF_F32, path.join(d, "model.gguf"));
    expectModelError(() => openModel(d), d, "several weight files", "grok-public-b.safetensors", "model.gguf");
  });

  it("missing tokenizer.model", () => {
    const d = refDir();
    rmSync(path.join(d, "tokenizer.model"));
    expectModelError(() => openModel(d), d, "no tokenizer.model");
  });

  it("safetensors without config.json", () => {
    const d = refDir();
    rmSync(path.join(d, "config.json"));
    expectModelError(() => openModel(d), d, "no config.json");
  });

  it("unknown extension", () => {
    expect(() => openModel(REF_CONFIG)).toThrow(ModelConfigError);
    expectModelError(() => openModel(REF_CONFIG), REF_CONFIG, "unknown model file extension '.json'");
  });

  it("a lone .safetensors file: pass its directory instead", () => {
    expectModelError(() => openModel(REF_ST), REF_ST, "carries no model config", "pass the directory");
  });

  it("a GGUF file without an embedded vocabulary opens with a token-ids-only tokenizer that says why", () => {
    // the reference vocabulary removed: write a copy whose tokens key is renamed
    const d = tmp.make();
    const f = path.join(d, "novocab.gguf");
    const b = readFileSync(REF_F32);
    const at = b.indexOf(Buffer.from("tokenizer.ggml.tokens"));
    b.write("tokenizer.ggml.tokenz", at);
    writeFileSync(f, b);
    const m = openModel(f);
    try {
      expect(m.config.vocabSize).toBe(512);
      expect(m.tokenizer.kind).toBe("none");
      const reason = m.tokenizer.kind === "none" ? m.tokenizer.reason : "";
      expect(reason).toContain(f);
      expect(reason).toContain("no embedded vocabulary");
    } finally {
      m.close();
    }
  });
});
