/** `moe model init|inspect` run as real processes. */
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { accountModel, loadConfigJson } from "../../model/index.js";
import { REF_CONFIG, REF_F32, SMALL, tempDirs } from "./helpers.js";
import { MOE_CLI } from "../moe-cli.js";

const tmp = tempDirs("moe-cli-");
afterAll(() => tmp.cleanup());

function moe(...args: string[]) {
  const r = spawnSync(process.execPath, [...MOE_CLI, ...args], { cwd: process.cwd(), encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("moe model", () => {
  it("inspect prints the architecture, tensors and parameter counts of the reference GGUF", () => {
    const r = moe("model", "inspect", REF_F32);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("architecture: grok");
    expect(r.stdout).toContain("format:       GGUF v3");
    expect(r.stdout).toMatch(/blk\.0\.ffn_gate_exps\.weight\s+\[8, 48, 128\]\s+F32\s+196,608/);
    const total = accountModel(loadConfigJson(REF_CONFIG), "f32").totalParams;
    expect(r.stdout).toMatch(new RegExp(`total\\s+${total.toLocaleString("en-US")}`));
    expect(r.stdout).toMatch(/expert\s+442,368/);
    expect(r.stdout).toContain("check: ok");
  });

  it("init writes a model (config file, q8_0, seed) that inspect accepts", () => {
    const dir = tmp.make();
    const cfgFile = path.join(dir, "small.json");
    writeFileSync(cfgFile, JSON.stringify(SMALL));
    const out = path.join(dir, "m");
    const r = moe("model", "init", "--config", cfgFile, "--out", out, "--dtype", "q8_0", "--seed", "3");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("wrote grok-test-small");
    for (const f of ["config.json", "model.gguf", "tokenizer.model"]) expect(existsSync(path.join(out, f))).toBe(true);
    const i = moe("model", "inspect", out, "--json");
    expect(i.code).toBe(0);
    const j = JSON.parse(i.stdout);
    expect(j.config).toEqual(SMALL);
    expect(j.check).toMatch(/^ok/);
    expect(j.tensors.find((t: { name: string }) => t.name === "blk.0.attn_q.weight").dtype).toBe("Q8_0");
    expect(j.parameters.total).toBe(accountModel(SMALL, "f32").totalParams);
  });

  it("errors name the problem and exit 1", () => {
    const out = path.join(tmp.make(), "x");
    const r = moe("model", "init", "--out", out, "--format", "safetensors", "--dtype", "q8_0");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("safetensors cannot store q8_0");
    const missing = path.join(tmp.make(), "nope.gguf");
    const i = moe("model", "inspect", missing);
    expect(i.code).toBe(1);
    expect(i.stderr).toContain(missing);
  });
});
