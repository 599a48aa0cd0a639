import { describe, expect, it } from "vitest";
import { accountModel, kvBytesPerToken, presetConfig, ffnSize, loadConfigJson } from "../../model/index.js";

const grok = presetConfig("grok-1");

describe("grok-1 accounting reproduces SPEC.md §2", () => {
  it("parameter counts (§2.1)", () => {
    const a = accountModel(grok, "bf16");
    expect(grok.ffnDim).toBe(32768);
    const l = a.layers[0]!;
    expect(l.attentionParams).toBe(88_080_384);
    expect(l.routerParams).toBe(49_152);
    expect(l.expertParams).toBe(603_979_776);
    expect(l.normParams).toBe(24_576);
    expect(l.totalParams).toBe(4_919_992_320);
    expect(a.embeddingParams).toBe(805_306_368);
    expect(a.totalParams).toBe(315_684_820_992);
    expect(a.activeParamsPerToken).toBe(83_756_587_008);
  });
  it("bytes (§2.2)", () => {
    expect(accountModel(grok, "bf16").totalBytes).toBe(631_369_641_984);
    expect(accountModel(grok, "f16").totalBytes).toBe(631_369_641_984);
    const int8 = accountModel(grok, "int8");
    expect(int8.layers[0]!.totalBytes).toBe(4_922_163_200);
    expect(int8.embeddingBytes).toBe(3_221_225_472);
    expect(int8.totalBytes).toBe(318_239_694_848);
    const byName = new Map(int8.tensors.map((t) => [t.name, t.bytes]));
    expect(byName.get("blk.0.attn_q.weight")).toBe(37_761_024);
    expect(byName.get("blk.0.attn_output.weight")).toBe(37_847_040);
    expect(byName.get("blk.0.ffn_down_exps.weight")).toBe(1_611_399_168);
    // ≈335.4 GB Q8_0 GGUF (§9.4)
    expect(accountModel(grok, "q8_0").totalBytes).toBe(335_429_001_216);
    expect(accountModel(grok, "f32").totalBytes).toBe(4 * 315_684_820_992);
  });
  it("KV cache per token (bf16): 262,144 B", () => {
    expect(kvBytesPerToken(grok)).toBe(262_144);
  });
  it("ffnSize follows xAI's formula", () => {
    expect(ffnSize(6144, 8)).toBe(32768);
    expect(ffnSize(128, 0.5)).toBe(48);
  });
  it("reads the public reference's snake_case config.json", () => {
    const c = loadConfigJson("../shared/grok-1/reference/config.json");
    expect(c).toMatchObject({ dModel: 128, nLayers: 3, nHeads: 8, nKvHeads: 2, headDim: 16, nExperts: 8, ffnDim: 48, vocabSize: 512 });
    // q8_0 falls back to F16 for the 48-wide down projection, as converters do
    const q = accountModel(c, "q8_0");
    expect(q.tensors.find((t) => t.name === "blk.0.ffn_down_exps.weight")!.bytes).toBe(8 * 128 * 48 * 2);
  });
  it("rejects bad presets and configs with the field named", () => {
    expect(() => presetConfig("grok-2")).toThrow(/unknown model preset 'grok-2'.*grok-1-tiny/);
  });
});
