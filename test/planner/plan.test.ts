import { describe, expect, it } from "vitest";
import { accountModel, presetConfig } from "../../model/index.js";
import {
  DEFAULT_COST_OPTIONS,
  PlacementError,
  comparePlans,
  makePlan,
  minCluster,
  planOnce,
  usableBytes,
  type PlanJson,
} from "../../planner/index.js";
import { loadCluster, parseClusterYaml } from "../clusters.js";
import { prng, randInt, randomCluster, randomModel } from "./helpers.js";

const grok = presetConfig("grok-1");
const tiny = presetConfig("grok-1-tiny");
const h100x8 = loadCluster("configs/clusters/h100x8.yaml");
const mixed = loadCluster("configs/clusters/mixed.yaml");
const local = loadCluster("configs/clusters/local.yaml");

/** Invariants every plan must keep. */
function checkPlan(plan: PlanJson, layers: number, experts: number): void {
  if (!plan.fits) {
    expect(plan.stages).toEqual([]);
    expect(plan.shortfall).not.toBeNull();
    return;
  }
  let at = 0;
  for (const s of plan.stages) {
    expect(s.layers[0]).toBe(at);
    expect(s.layers[1]).toBeGreaterThan(at);
    at = s.layers[1];
  }
  expect(at).toBe(layers);
  expect(plan.experts.length).toBe(layers * experts);
  const byName = new Map(plan.hosts.map((h) => [h.name, h]));
  const seen = new Set<string>();
  for (const x of plan.experts) {
    seen.add(`${x.layer}/${x.expert}`);
    expect(x.hosts.length).toBeGreaterThan(0);
    for (const h of x.hosts) expect(byName.get(h)!.roles).toContain("expert");
  }
  expect(seen.size).toBe(layers * experts);
  for (const h of plan.hosts) {
    expect(h.memory.usedBytes).toBeLessThanOrEqual(h.memory.capacityBytes);
    expect(h.memory.freeBytes).toBeGreaterThanOrEqual(0);
  }
  expect(plan.routers.length).toBe(plan.stages.length);
  expect(plan.predicted.decodeTokensPerSecond).toBeGreaterThan(0);
  expect(plan.predicted.kvCapacityTokens).toBeGreaterThanOrEqual(plan.workload.concurrency * plan.workload.context);
}

describe("known numbers (Grok-1)", () => {
  it("weight bytes per dtype follow SPEC.md §2.2, KV bytes per token 262,144", () => {
    const expected = { int8: 318_239_694_848, bf16: 631_369_641_984, f16: 631_369_641_984, q8_0: 335_429_001_216, f32: 4 * 315_684_820_992 } as const;
    for (const [dtype, bytes] of Object.entries(expected)) {
      const p = planOnce(grok, h100x8, { dtype: dtype as keyof typeof expected });
      expect(p.model.weightBytes).toBe(bytes);
      expect(p.model.kvBytesPerToken).toBe(dtype === "f32" ? 524_288 : 262_144);
    }
  });

  it("int8 fits on 8× H100-80GB: every weight placed once (+ the tied head copy), KV capacity 872,137 tokens = 106 sequences of 8192", () => {
    const plan = makePlan(grok, h100x8, { dtype: "int8" });
    checkPlan(plan, 64, 8);
    expect(plan.fits).toBe(true);
    expect(plan.stages.length).toBe(8);
    const int8 = accountModel(grok, "int8");
    const weights = plan.hosts.reduce((a, h) => a + h.memory.weightsBytes, 0);
    expect(weights).toBe(int8.totalBytes + int8.embeddingBytes);
    // KV capacity by hand: the first stage (9 layers + embedding + 64 experts) is the tightest.
    const usable = usableBytes(h100x8.hosts[0]!, plan.assumptions);
    const first = plan.hosts.find((h) => h.name === plan.stages[0]!.host)!;
    const n = plan.stages[0]!.layers[1] - plan.stages[0]!.layers[0];
    expect(n).toBe(9);
    const byHand = Math.floor((usable - first.memory.weightsBytes - first.memory.activationBytes) / (n * 4096));
    expect(plan.predicted.kvCapacityTokens).toBe(byHand);
    expect(plan.predicted.kvCapacityTokens).toBe(872_137);
    expect(plan.predicted.maxConcurrentSequences).toBe(106);
    expect(plan.limits).toEqual({ maxRunningSequences: 106, maxQueued: 424 });
    expect(plan.predicted.bottleneck.kind).toBe("experts");
    // weights and wire alone (no software costs): 30–80 tok/s per sequence
    const bare = makePlan(grok, h100x8, { dtype: "int8", cost: { sessionSeconds: 0, stageLayerSeconds: 0, messageSeconds: 0, messageSecondsPerByte: 0, pipelineMessageSeconds: 0 } });
    expect(bare.predicted.decodeTokensPerSecond).toBeGreaterThan(30);
    expect(bare.predicted.decodeTokensPerSecond).toBeLessThan(80);
    // the default software costs (64 layers × two messages per expert host, session runs) take their share
    expect(plan.predicted.decodeTokensPerSecond).toBeLessThan(bare.predicted.decodeTokensPerSecond);
    expect(plan.predicted.decodeTokensPerSecond).toBeGreaterThan(0.5 * bare.predicted.decodeTokensPerSecond);
    expect(plan.predicted.breakdown.softwareSeconds).toBeGreaterThan(64 * 2 * DEFAULT_COST_OPTIONS.messageSeconds);
  });

  it("bf16 does not fit on 8× H100-80GB: 36.4 GB short, fixed by --dtype int8 or one more H100", () => {
    const plan = makePlan(grok, h100x8, { dtype: "bf16" });
    expect(plan.fits).toBe(false);
    checkPlan(plan, 64, 8);
    const s = plan.shortfall!;
    expect(s.availableBytes).toBeCloseTo(8 * usableBytes(h100x8.hosts[0]!, plan.assumptions), 0);
    expect(s.neededBytes).toBe(631_369_641_984 + 1_610_612_736 + 2_147_483_648 + 8 * (910_688_256 + 146_800_640));
    expect(s.missingBytes).toBeCloseTo(s.neededBytes - s.availableBytes, 0);
    expect(s.missingBytes / 1e9).toBeCloseTo(36.43, 2);
    expect(s.reason).toMatch(/36\.4 GB short/);
    expect(s.fixes.map((f) => f.change)).toEqual(["--dtype int8", "add 1× h100-80gb"]);
    expect(plan.limits).toEqual({ maxRunningSequences: 0, maxQueued: 0 });
  });

  it("workload fixes come first when a smaller workload fits", () => {
    const plan = makePlan(grok, h100x8, { dtype: "int8", concurrency: 200 });
    expect(plan.fits).toBe(false);
    const [first, second] = plan.shortfall!.fixes;
    const c = Number(/^--concurrency (\d+)$/.exec(first!.change)![1]);
    // the largest concurrency that fits (the planner may trade stage balance for KV room to get there)
    expect(c).toBeGreaterThanOrEqual(106);
    expect(makePlan(grok, h100x8, { dtype: "int8", concurrency: c }).fits).toBe(true);
    expect(planOnce(grok, h100x8, { dtype: "int8", concurrency: c + 1 }).fits).toBe(false);
    expect(second!.kind).toBe("context");
  });

  it("--min-cluster: int8 Grok-1 needs 5× H100-80GB, bf16 needs 9", () => {
    const plan = (c: typeof grok, k: typeof h100x8, o: Parameters<typeof planOnce>[2]) => planOnce(c, k, o);
    expect(minCluster(grok, "h100-80gb", { dtype: "int8" }, plan).count).toBe(5);
    expect(minCluster(grok, "h100-80gb", { dtype: "bf16" }, plan).count).toBe(9);
  });
});

describe("heterogeneity pays", () => {
  for (const concurrency of [1, 16]) {
    it(`on the mixed cluster the plan beats a uniform and a memory-proportional split (concurrency ${concurrency})`, () => {
      const { plan, rows } = comparePlans(grok, mixed, { dtype: "int8", concurrency });
      checkPlan(plan, 64, 8);
      const [planner, uniform, memprop] = rows;
      expect(planner!.fits).toBe(true);
      expect(planner!.decodeSecondsPerToken).toBeLessThan(uniform!.decodeSecondsPerToken);
      expect(planner!.decodeSecondsPerToken).toBeLessThan(memprop!.decodeSecondsPerToken);
      expect(planner!.decodeTokensPerSecondAggregate).toBeGreaterThan(uniform!.decodeTokensPerSecondAggregate);
      expect(planner!.decodeTokensPerSecondAggregate).toBeGreaterThan(memprop!.decodeTokensPerSecondAggregate);
      expect(memprop!.fits).toBe(true);
    });
  }
});

describe("plans on random clusters", () => {
  it("never exceed a host's memory, cover every (layer, expert), and are deterministic", () => {
    let fits = 0;
    for (let seed = 1; seed <= 120; seed++) {
      const r = prng(seed * 104729);
      const cfg = randomModel(r);
      const bytes = accountModel(cfg, "f32").totalBytes;
      const cluster = randomCluster(r, 6, (bytes * randInt(r, 3, 12)) / 6);
      const o = { dtype: "f32" as const, context: randInt(r, 64, 1024), concurrency: randInt(r, 1, 8), promptTokens: 32 };
      const plan = makePlan(cfg, cluster, { ...o, fixes: false });
      checkPlan(plan, cfg.nLayers, cfg.nExperts);
      if (plan.fits) fits++;
      expect(JSON.stringify(makePlan(cfg, cluster, { ...o, fixes: false }))).toBe(JSON.stringify(plan));
    }
    expect(fits).toBeGreaterThan(40);
  });

  it("Grok-1 plans are byte-for-byte deterministic", () => {
    const a = JSON.stringify(makePlan(grok, mixed, { dtype: "int8", concurrency: 8 }));
    const b = JSON.stringify(makePlan(grok, mixed, { dtype: "int8", concurrency: 8 }));
    expect(a).toBe(b);
  });
});

describe("the local tiny cluster", () => {
  it("uses its explicit placement: two stages with routers, uneven expert shares, one replicated expert", () => {
    const plan = makePlan(tiny, local, { dtype: "f32" });
    checkPlan(plan, 4, 8);
    expect(plan.placement).toBe("explicit");
    expect(plan.stages).toEqual([
      { host: "stage0", layers: [0, 2] },
      { host: "stage1", layers: [2, 4] },
    ]);
    expect(plan.routers).toEqual([
      { stage: 0, host: "stage0" },
      { stage: 1, host: "stage1" },
    ]);
    expect(plan.gateway).toBe("stage0");
    const slots = plan.hosts.filter((h) => h.name.startsWith("expert")).map((h) => h.expertSlots);
    expect(slots).toEqual([16, 13, 4]);
    expect(plan.experts.filter((x) => x.hosts.length > 1)).toEqual([{ layer: 0, expert: 0, hosts: ["expert0", "expert1"], weights: [0.666667, 0.333333] }]);
  });

  it("can be planned without the explicit placement", () => {
    const plan = makePlan(tiny, local, { dtype: "f32", usePlacement: false });
    checkPlan(plan, 4, 8);
    expect(plan.placement).toBe("planner");
    const e = plan.hosts.filter((h) => h.name.startsWith("expert")).map((h) => h.expertSlots);
    // shares follow 1 ÷ (expert read time + one session run): 12, 10 and 8 GB/s hosts
    expect(e).toEqual([12, 11, 9]);
    expect(plan.hosts.filter((h) => h.roles.includes("stage")).map((h) => h.name).sort()).toEqual(["stage0", "stage1"]);
  });

  it("rejects an explicit placement that does not match the model, naming the field", () => {
    const bad = (placement: string) => () => planOnce(tiny, parseClusterYaml(`hosts:\n  - { name: a, device: cpu-local }\nplacement:\n${placement}`, "p.yaml"), { dtype: "f32" });
    expect(bad(`  stages: [{ host: a, layers: [0, 3] }]\n  experts: []\n`)).toThrow(PlacementError);
    expect(bad(`  stages: [{ host: a, layers: [0, 3] }]\n  experts: []\n`)).toThrow(/p\.yaml: placement\.stages: cover layers \[0, 3\) but the model has 4/);
    expect(bad(`  stages: [{ host: a, layers: [0, 4] }]\n  experts: [{ layer: 0, expert: 0, hosts: [a] }]\n`)).toThrow(/placement\.experts: \(layer 0, expert 1\) has no host/);
    expect(bad(`  stages: [{ host: a, layers: [1, 4] }]\n  experts: []\n`)).toThrow(/placement\.stages\[0\]\.layers/);
  });
});
