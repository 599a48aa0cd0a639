/**
 * Per-host parts end to end: `moe plan --out` and `moe model slice --plan` (real processes) cut the
 * tiny model into one GGUF per host of configs/clusters/local.yaml; the parts add up to the file
 * plus its replicas; each opens alone and holds exactly its host's tensors and expert rows; with
 * the whole file deleted, `moe up --plan --parts` serves exactly the single-process output.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkPartHost, engineLimits } from "../../control/index.js";
import { layerTensorNames, openModel, openWeights, PartReader, WeightFileError } from "../../model/index.js";
import type { PlanJson } from "../../planner/index.js";
import { lockstep, MODEL_DIR, prompts, reference, startCluster, tearDown, tempDir, type Started } from "./helpers.js";
import { MOE_CLI } from "../moe-cli.js";

const CLUSTER = "configs/clusters/local.yaml";
const moe = (...args: string[]) => spawnSync(process.execPath, [...MOE_CLI, ...args], { encoding: "utf8", timeout: 120_000 });

describe("cluster from per-host parts (moe model slice)", () => {
  const tmp = tempDir("moe-parts-");
  const full = join(tmp.dir, "grok-1-tiny.gguf");
  const partsDir = join(tmp.dir, "parts");
  const planFile = join(tmp.dir, "plan.json");
  let plan: PlanJson;
  let ref: Awaited<ReturnType<typeof reference>>;
  let c: Started | undefined;
  let fullTensorBytes = 0;
  let fullTensors: Map<string, { bytes: number; experts: number }>;

  beforeAll(async () => {
    ref = await reference();
    copyFileSync(join(MODEL_DIR, "model.gguf"), full);
    const p = moe("plan", "--cluster", CLUSTER, "--model", full, "--out", planFile);
    expect(p.status, p.stderr).toBe(0);
    plan = JSON.parse(readFileSync(planFile, "utf8")) as PlanJson;
    const s = moe("model", "slice", "--plan", planFile, "--out", partsDir);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toContain(`sliced ${full} into 5 parts`);
    const r = openWeights(full);
    fullTensors = new Map(r.tensors().map((t) => [t.name, { bytes: t.byteLength, experts: t.shape.length === 3 ? t.shape[0]! : 0 }]));
    fullTensorBytes = r.tensors().reduce((a, t) => a + t.byteLength, 0);
    r.close();
  });
  afterAll(() => tearDown(c, ref, tmp));

  it("writes one part per host; they add up to the file plus replicas (and the tied embedding on both end stages)", () => {
    const hosts = ["stage0", "stage1", "expert0", "expert1", "expert2"];
    for (const h of hosts) expect(existsSync(join(partsDir, `${h}.gguf`)), h).toBe(true);
    let held = 0;
    for (const h of hosts) {
      const r = openWeights(join(partsDir, `${h}.gguf`));
      expect(r).toBeInstanceOf(PartReader);
      held += (r as PartReader).storedTensors().reduce((a, t) => a + t.byteLength, 0);
      r.close();
    }
    // replicas: every extra host of a (layer, expert) holds its three matrices' rows once more
    const expertRow = (layer: number) => [layerTensorNames(layer).gate, layerTensorNames(layer).up, layerTensorNames(layer).down].reduce((a, n) => a + fullTensors.get(n)!.bytes / fullTensors.get(n)!.experts, 0);
    const replicas = plan.experts.reduce((a, x) => a + (x.hosts.length - 1) * expertRow(x.layer), 0);
    expect(replicas).toBeGreaterThan(0); // local.yaml replicates expert 0 of layer 0
    // the first stage embeds, the last stage unembeds with the same (tied) tensor on another host
    const embedding = fullTensors.get("token_embd.weight")!.bytes;
    expect(held).toBe(fullTensorBytes + replicas + embedding);
  });

  it("each part opens alone as the model and holds exactly its host's share", () => {
    const e1 = openModel(join(partsDir, "expert1.gguf"));
    const s0 = openModel(join(partsDir, "stage0.gguf"));
    try {
      expect(e1.config).toEqual(ref.config);
      expect(e1.tokenizer.kind).toBe("gguf-vocab");
      const w = e1.weights as PartReader;
      expect(w.host).toBe("expert1");
      const mine = plan.experts.filter((x) => x.hosts.includes("expert1"));
      for (let l = 0; l < ref.config.nLayers; l++) expect(w.heldExperts(layerTensorNames(l).gate)).toEqual(mine.filter((x) => x.layer === l).map((x) => x.expert).sort((a, b) => a - b));
      expect(w.holds(layerTensorNames(0).attnNorm)).toBe(false);
      const full = openWeights(MODEL_DIR + "/model.gguf");
      try {
        const x = mine[0]!;
        expect(Buffer.compare(w.readRaw(layerTensorNames(x.layer).down, x.expert).bytes, full.readRaw(layerTensorNames(x.layer).down, x.expert).bytes)).toBe(0);
      } finally {
        full.close();
      }
      expect(() => w.readRaw(layerTensorNames(0).gate, 7)).toThrow(WeightFileError);
      expect(() => w.readRaw(layerTensorNames(0).gate, 7)).toThrow(/the part for host 'expert1' holds experts \[0, 4, 5, 6\] of 'blk\.0\.ffn_gate_exps\.weight', not expert 7/);
      expect(() => w.readRaw("token_embd.weight")).toThrow(/does not hold tensor 'token_embd\.weight'/);
      const sw = s0.weights as PartReader;
      expect(sw.holds("token_embd.weight")).toBe(true);
      expect(sw.holds(layerTensorNames(1).q)).toBe(true);
      expect(sw.holds(layerTensorNames(2).q)).toBe(false);
      expect(sw.heldExperts(layerTensorNames(0).gate)).toEqual([]);
      // a process refuses another host's part
      expect(() => checkPartHost(e1, { name: "expert0", host: "expert0" } as never)).toThrow(/is the part for host 'expert1', but process 'expert0' runs on host 'expert0'/);
    } finally {
      e1.close();
      s0.close();
    }
  });

  it("moe up --plan --parts serves exactly the single process's output with the whole file deleted", async () => {
    rmSync(full);
    c = await startCluster(CLUSTER, join(tmp.dir, "run"), { planFile, partsDir });
    const rt = c.cluster.runtime;
    expect(rt.model.parts?.expert2).toBe(join(partsDir, "expert2.gguf"));
    expect(rt.limits).toEqual(engineLimits(plan)); // the KV memory the engine really uses
    const r = await lockstep(c.client, ref.backend, prompts(ref.config, [3, 11, 1]), 8, 900);
    expect(r.maxRelError).toBe(0);
    expect(r.tokens).toEqual(r.refTokens);
  });
});
