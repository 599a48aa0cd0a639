/**
 * The capacity-planning loop end to end: the routers' per-expert token counts
 * (expert-load.json, as `moe up` writes them) go into `moe plan --expert-load
 * --out plan.json` (a real process), which replicates the hot expert; `moe up
 * --plan plan.json` runs that plan — the replica is in the runtime and the
 * output still equals the single-process engine. A plan of another model is
 * refused with the file named.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launch, readPlanFile } from "../../control/index.js";
import type { PlanJson } from "../../planner/index.js";
import { loadCluster } from "../clusters.js";
import { lockstep, prompts, reference, startCluster, tempDir, type Started, tearDown } from "./helpers.js";
import { MOE_CLI } from "../moe-cli.js";

const CLUSTER = "configs/clusters/local.yaml";

describe("cluster: moe up --plan from moe plan --expert-load", () => {
  const tmp = tempDir("moe-plan-file-");
  let ref: Awaited<ReturnType<typeof reference>>;
  let c: Started | undefined;
  let plan: PlanJson;

  beforeAll(async () => {
    ref = await reference();
    // layer 0's expert 7 is hot
    const counts = Array.from({ length: ref.config.nLayers }, (_, l) => Array.from({ length: ref.config.nExperts }, (_, e) => (l === 0 && e === 7 ? 400 : 10)));
    const load = join(tmp.dir, "expert-load.json");
    writeFileSync(load, JSON.stringify({ cluster: "local", model: "grok-1-tiny", updatedAt: new Date().toISOString(), counts }));
    const out = join(tmp.dir, "plan.json");
    const r = spawnSync(process.execPath, [...MOE_CLI, "plan", "--cluster", CLUSTER, "--replan", "--expert-load", load, "--replicas", "2", "--out", out], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    plan = JSON.parse(readFileSync(out, "utf8")) as PlanJson;
    c = await startCluster(CLUSTER, join(tmp.dir, "run"), { planFile: out });
  });

  afterAll(() => tearDown(c, ref, tmp));

  it("runs the plan: the hot expert is replicated in the runtime, the output is exact", async () => {
    const hot = plan.experts.find((x) => x.layer === 0 && x.expert === 7)!;
    expect(hot.hosts.length).toBeGreaterThan(1);
    const rt = c!.cluster.runtime;
    expect(rt.experts.find((x) => x.layer === 0 && x.expert === 7)).toMatchObject({ hosts: hot.hosts, weights: hot.weights });
    const r = await lockstep(c!.client, ref.backend, prompts(ref.config, [3, 11, 1]), 8, 900);
    expect(r.maxRelError).toBe(0);
    expect(r.tokens).toEqual(r.refTokens);
  });

  it("refuses a plan made for another model, naming the file", async () => {
    const other = join(tmp.dir, "other-plan.json");
    writeFileSync(other, JSON.stringify({ ...plan, model: { ...plan.model, layers: 64 } }));
    expect(() => readPlanFile(other, ref.config, loadCluster(CLUSTER))).toThrow(new RegExp(`${other}: planned for 64 layers`));
    await expect(launch({ clusterFile: CLUSTER, runDir: join(tmp.dir, "run2"), planFile: other, gateway: false })).rejects.toThrow(/planned for 64 layers/);
  });
});
