import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { PlanJson } from "../../planner/index.js";
import { MOE_CLI } from "../moe-cli.js";

const dir = mkdtempSync(join(tmpdir(), "moe-plan-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run `moe plan ...` as a real process. */
function moe(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...MOE_CLI, "plan", ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("moe plan (real process)", () => {
  it("plans a single GGUF file from its metadata (the public reference model)", async () => {
    const out = join(dir, "gguf-plan.json");
    const r = await moe("--model", "../shared/grok-1/reference/grok-public-b.q8_0.gguf", "--cluster", "configs/clusters/local.yaml", "--replan", "--dtype", "q8_0", "--out", out);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const plan = JSON.parse(readFileSync(out, "utf8")) as PlanJson;
    expect(plan.model).toMatchObject({ name: "grok-public-b", layers: 3, experts: 8, dModel: 128 });
    expect(plan.fits).toBe(true);
    expect(plan.experts).toHaveLength(3 * 8);
  });

  it("plans int8 Grok-1 on 8× H100 and writes plan.json", async () => {
    const out = join(dir, "plan.json");
    const r = await moe("--model", "grok-1", "--cluster", "configs/clusters/h100x8.yaml", "--dtype", "int8", "--out", out);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/h100-0\s+h100-80gb\s+stage,expert,router,gateway\s+0–8\s+64/);
    expect(r.stdout).toMatch(/KV capacity\s+872,137 tokens = 106 sequences of 8192 tokens/);
    expect(r.stdout).toMatch(/decode\s+[\d.]+ tok\/s per sequence/);
    expect(r.stdout).toMatch(/bottleneck\s+experts/);
    const plan = JSON.parse(readFileSync(out, "utf8")) as PlanJson;
    expect(plan.fits).toBe(true);
    expect(plan.stages.length).toBe(8);
    expect(plan.stages[0]).toEqual({ host: "h100-0", layers: [0, 9] });
    expect(plan.experts.length).toBe(512);
    expect(plan.hosts[0]!.memory.capacityBytes).toBe(81559 * 2 ** 20);
    expect(Object.keys(plan.predicted)).toEqual(expect.arrayContaining(["decodeTokensPerSecond", "decodeTokensPerSecondAggregate", "ttftSeconds", "kvCapacityTokens", "maxConcurrentSequences", "bottleneck"]));
    expect(plan.limits.maxRunningSequences).toBe(106);
  });

  it("says bf16 does not fit, by how much, and the smallest fix (exit 2)", async () => {
    const r = await moe("--model", "grok-1", "--cluster", "configs/clusters/h100x8.yaml", "--dtype", "bf16");
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/DOES NOT FIT: .*36\.4 GB short/);
    expect(r.stdout).toMatch(/smallest change: --dtype int8/);
    expect(r.stdout).toMatch(/or: add 1× h100-80gb/);
  });

  it("--compare prints the planner, uniform and memory-proportional splits; --json is machine-readable", async () => {
    const r = await moe("--cluster", "configs/clusters/mixed.yaml", "--compare", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { plan: PlanJson; compare: { name: string; decodeSecondsPerToken: number }[] };
    expect(j.compare.map((x) => x.name)).toEqual(["planner", "uniform", "memory-proportional"]);
    expect(j.compare[0]!.decodeSecondsPerToken).toBeLessThan(Math.min(j.compare[1]!.decodeSecondsPerToken, j.compare[2]!.decodeSecondsPerToken));
    const t = await moe("--cluster", "configs/clusters/mixed.yaml", "--compare");
    expect(t.stdout).toMatch(/^planner\s+yes/m);
    expect(t.stdout).toMatch(/^memory-proportional\s+yes/m);
  });

  it("--min-cluster --gpu h100-80gb answers how many", async () => {
    const r = await moe("--min-cluster", "--gpu", "h100-80gb", "--dtype", "int8");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^grok-1 at int8 needs 5× h100-80gb/);
  });

  it("plans the local cluster and a model directory; errors name the file and field (exit 1)", async () => {
    const modelDir = join(dir, "model");
    const cfgFile = join(modelDir, "config.json");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(modelDir);
    writeFileSync(cfgFile, JSON.stringify({ n_vocab: 512, n_embd: 128, n_layer: 3, n_head: 8, n_head_kv: 2, n_expert: 8, n_expert_used: 2, n_ff: 48, context_length: 512 }));
    const r = await moe("--model", modelDir, "--cluster", "configs/clusters/local.yaml", "--replan", "--json");
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as PlanJson;
    expect(plan.model).toMatchObject({ layers: 3, source: modelDir });
    expect(plan.stages.at(-1)!.layers[1]).toBe(3);

    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "hosts:\n  - name: a\n    gpu: h100-80gb\n    memroy: 80GB\n");
    const e = await moe("--cluster", bad);
    expect(e.code).toBe(1);
    expect(e.stderr).toContain(`${bad}:4: hosts[0].memroy: unknown field 'memroy' (did you mean 'memory'?)`);
  });
});
