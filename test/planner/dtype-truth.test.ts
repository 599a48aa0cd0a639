/**
 * One truth for dtypes: `moe plan --model FILE` plans at the file's weight dtype and the engine's
 * KV dtype (f32) unless told otherwise, and `moe up` limits concurrency by the KV memory the engine
 * really uses — also when it runs a plan.json made with another KV assumption.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineLimits } from "../../control/index.js";
import { generateModel } from "../../factory/index.js";
import { ENGINE_KV_BYTES_PER_ELEMENT, kvBytesPerToken, presetConfig } from "../../model/index.js";
import { makePlan, type PlanJson } from "../../planner/index.js";
import { loadCluster } from "../clusters.js";
import { MOE_CLI } from "../moe-cli.js";

const dir = mkdtempSync(join(tmpdir(), "moe-dtype-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function plan(...args: string[]): PlanJson {
  const out = join(dir, `plan-${Math.random().toString(36).slice(2)}.json`);
  const r = spawnSync(process.execPath, [...MOE_CLI, "plan", "--cluster", "configs/clusters/local.yaml", "--replan", "--out", out, ...args], { encoding: "utf8", timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(readFileSync(out, "utf8")) as PlanJson;
}

describe("moe plan --model FILE", () => {
  let q8: string;
  let f16: string;
  beforeAll(() => {
    q8 = generateModel({ config: presetConfig("grok-1-tiny"), outDir: join(dir, "q8"), format: "gguf", dtype: "q8_0", seed: 1 }).weightsPath;
    f16 = generateModel({ config: presetConfig("grok-1-tiny"), outDir: join(dir, "f16"), format: "safetensors", dtype: "f16", seed: 1 }).dir;
  });

  it("plans at the file's weight dtype and the engine's f32 KV cache (local.yaml says dtype f32)", () => {
    const a = plan("--model", q8);
    expect(a.dtype).toBe("q8_0");
    expect(a.assumptions.kvBytesPerElement).toBe(ENGINE_KV_BYTES_PER_ELEMENT);
    expect(a.model.kvBytesPerToken).toBe(kvBytesPerToken(presetConfig("grok-1-tiny"), 4));
    const b = plan("--model", f16);
    expect(b.dtype).toBe("f16");
    expect(b.assumptions.kvBytesPerElement).toBe(4);
    // the public reference's xAI-format checkpoint needs its config.json: its GGUF twin is read instead
    const g = plan("--model", "../shared/grok-1/reference/grok-public-b.f32.gguf");
    expect(g.dtype).toBe("f32");
  });

  it("unless told otherwise", () => {
    const c = plan("--model", q8, "--dtype", "int8", "--kv-dtype", "f16");
    expect(c.dtype).toBe("int8");
    expect(c.assumptions.kvBytesPerElement).toBe(2);
  });

  it("a preset (no file) keeps the planner's defaults", () => {
    const d = plan("--model", "grok-1-tiny", "--dtype", "q8_0");
    expect(d.assumptions.kvBytesPerElement).toBe(2);
  });
});

describe("moe up's concurrency limit", () => {
  it("is the engine's: a plan sized at f16 KV holds half the sequences at f32 (Grok-1 int8 on 8× H100)", () => {
    const cluster = loadCluster("configs/clusters/h100x8.yaml");
    const cfg = presetConfig("grok-1");
    const f16 = makePlan(cfg, cluster, { dtype: "int8", cost: { kvBytesPerElement: 2 } });
    const f32 = makePlan(cfg, cluster, { dtype: "int8", cost: { kvBytesPerElement: 4 } });
    expect(f16.limits.maxRunningSequences).toBe(106); // what the issue saw: planned 106 …
    const real = engineLimits(f16);
    expect(real.maxRunningSequences).toBe(f32.predicted.maxConcurrentSequences); // … the engine's KV fits this many
    expect(real.maxRunningSequences).toBeLessThanOrEqual(54);
    expect(real.maxRunningSequences).toBeGreaterThanOrEqual(52);
    expect(engineLimits(f32)).toEqual(f32.limits);
  });
});
