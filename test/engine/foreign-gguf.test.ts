/**
 * Grok GGUFs made elsewhere: one may carry no vocabulary (or one that does not
 * match the embedding) — the model still loads, token-id prompts work and give
 * the same ids as the same weights with a tokenizer, and a text prompt fails
 * with an error that says why and what to do; another may name the post-MoE
 * norm `post_ffw_norm` (llama.cpp's alternative), or fuse Q/K/V into
 * `attn_qkv` (f32 and Q8_0) — same logits.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Engine, loadServingModel, openModel, presetConfig, TokenizerError, type LoadedModel } from "../../model/index.js";
import { generateModel, grokGgufMetadata, writeGguf } from "../../factory/index.js";
import { startGateway } from "../../gateway/index.js";
import { LocalBackend } from "../../stages/index.js";
import { MOE_CLI } from "../moe-cli.js";

const root = mkdtempSync(join(tmpdir(), "moe-novocab-"));

/** Both models give bit-identical logits for `prompt`. */
async function expectSameLogits(a: LoadedModel, b: LoadedModel, prompt: number[]): Promise<void> {
  const ea = await Engine.create(a.config, a.weights);
  const eb = await Engine.create(b.config, b.weights);
  try {
    const la = await ea.forward([{ seq: ea.newSequence(), tokens: prompt }]);
    const lb = await eb.forward([{ seq: eb.newSequence(), tokens: prompt }]);
    expect(Array.from(lb)).toEqual(Array.from(la));
  } finally {
    await ea.close();
    await eb.close();
  }
}
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The tiny model as a directory, and the same tensors in a bare GGUF without tokenizer metadata. */
function models(): { dir: string; bare: string; renamed: string } {
  const dir = join(root, "with-tokenizer");
  generateModel({ config: presetConfig("grok-1-tiny"), outDir: dir, format: "gguf", dtype: "f32", seed: 11 });
  const m = openModel(dir);
  try {
    const bare = join(root, "bare.gguf");
    const tensors = m.weights.tensors().map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: m.weights.readRaw(t.name).bytes }));
    writeGguf(bare, { metadata: grokGgufMetadata(m.config, { fileType: 0 }), tensors });
    const renamed = join(root, "renamed.gguf");
    writeGguf(renamed, { metadata: grokGgufMetadata(m.config, { fileType: 0 }), tensors: tensors.map((t) => ({ ...t, name: t.name.replace(/layer_output_norm/, "post_ffw_norm") })) });
    return { dir, bare, renamed };
  } finally {
    m.close();
  }
}

describe("Grok GGUFs made elsewhere", () => {
  const { dir, bare, renamed } = models();

  it("reads blk.N.post_ffw_norm.weight as the post-MoE norm: identical logits", async () => {
    const a = openModel(dir);
    const b = openModel(renamed);
    try {
      expect(b.weights.find("blk.3.layer_output_norm.weight")?.name).toBe("blk.3.post_ffw_norm.weight");
      await expectSameLogits(a, b, [1, 300, 301, 302, 303]);
    } finally {
      a.close();
      b.close();
    }
  });

  it("loads; text prompts fail with the reason and the fix", async () => {
    const served = await loadServingModel(bare);
    try {
      expect(served.config.vocabSize).toBe(2048); // from token_embd's rows
      expect(() => served.tokenizer.encode("hello")).toThrow(TokenizerError);
      expect(() => served.tokenizer.encode("hello")).toThrow(/no usable tokenizer.*tokenizer\.ggml\.tokens.*--prompt-ids/s);
    } finally {
      await served.close();
    }
  });

  it("moe generate --prompt-ids gives the same ids as the model with its tokenizer (real process)", () => {
    const run = (model: string) =>
      spawnSync(process.execPath, [...MOE_CLI, "generate", "--model", model, "--prompt-ids", "1,400,500,600", "--max-tokens", "8", "--json"], { encoding: "utf8", timeout: 60_000 });
    const a = run(bare);
    const b = run(dir);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    const ja = JSON.parse(a.stdout) as { ids: number[]; text: string };
    const jb = JSON.parse(b.stdout) as { ids: number[]; text: string };
    expect(ja.ids).toEqual(jb.ids);
    expect(ja.ids).toHaveLength(8);
    expect(ja.text).toBe("");
    const c = spawnSync(process.execPath, [...MOE_CLI, "generate", "--model", bare, "hello"], { encoding: "utf8", timeout: 60_000 });
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(/no usable tokenizer/);
  });

  it("the gateway answers token-id prompts and turns text prompts into a 400 that says why", async () => {
    const served = await loadServingModel(bare);
    const gw = await startGateway({ backend: new LocalBackend(served.engine), tokenizer: served.tokenizer, config: served.config, modelName: "bare", port: 0 });
    try {
      const post = (prompt: unknown) =>
        fetch(`${gw.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt, max_tokens: 4, temperature: 0, return_token_ids: true }) });
      const ok = await post([1, 400, 500, 600]);
      expect(ok.status).toBe(200);
      const text = await post("hello");
      expect(text.status).toBe(400);
      const body = (await text.json()) as { error: { code: string; param: string; message: string } };
      expect(body.error.code).toBe("tokenizer_unavailable");
      expect(body.error.param).toBe("prompt");
      expect(body.error.message).toMatch(/no usable tokenizer/);
    } finally {
      await gw.close();
      await served.close();
    }
  });

  it.each(["f32", "q8_0"] as const)("splits a fused blk.N.attn_qkv.weight (%s) into Q, K, V: identical logits", async (dtype) => {
    const src = join(root, `qkv-src-${dtype}`);
    generateModel({ config: presetConfig("grok-1-tiny"), outDir: src, format: "gguf", dtype, seed: 12 });
    const a = openModel(src);
    const fused = join(root, `fused-${dtype}.gguf`);
    const raw = (name: string) => a.weights.readRaw(name);
    const tensors = a.weights
      .tensors()
      .filter((t) => !/attn_[qkv]\.weight$/.test(t.name))
      .map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: raw(t.name).bytes }));
    for (let l = 0; l < a.config.nLayers; l++) {
      const [q, k, v] = ["q", "k", "v"].map((x) => raw(`blk.${l}.attn_${x}.weight`));
      const data = new Uint8Array(q!.bytes.length + k!.bytes.length + v!.bytes.length);
      data.set(q!.bytes, 0);
      data.set(k!.bytes, q!.bytes.length);
      data.set(v!.bytes, q!.bytes.length + k!.bytes.length);
      tensors.push({ name: `blk.${l}.attn_qkv.weight`, dtype: q!.dtype, shape: [q!.shape[0]! + k!.shape[0]! + v!.shape[0]!, q!.shape[1]!], data });
    }
    writeGguf(fused, { metadata: grokGgufMetadata(a.config, { fileType: dtype === "f32" ? 0 : 7 }), tensors });
    const b = openModel(fused);
    try {
      expect(b.weights.tensors().some((t) => t.name === "blk.0.attn_qkv.weight")).toBe(true);
      await expectSameLogits(a, b, [1, 700, 701, 702, 703, 704]);
    } finally {
      a.close();
      b.close();
    }
  });
});
