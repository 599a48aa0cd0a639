/**
 * Re-placement after a host is lost (planner/replan.ts) on the example local
 * cluster: survivors keep what they hold, orphaned experts go to the expert
 * host with the least work per bandwidth, replicas thin out, a lost stage
 * host asks for a fresh plan, and the result is a plan `makePlan` accepts.
 */
import { describe, expect, it } from "vitest";
import { presetConfig } from "../../model/index.js";
import { makePlan, placeWithoutLost, type PlanJson, type Replacement } from "../../planner/index.js";
import { loadCluster } from "../clusters.js";

const cfg = presetConfig("grok-1-tiny");
const cluster = loadCluster("configs/clusters/local.yaml");
const plan: PlanJson = makePlan(cfg, cluster, { dtype: "f32" });
const free = (h: string) => plan.hosts.find((x) => x.name === h)?.memory.freeBytes ?? 0;
const without = (lost: string[]) => cluster.hosts.filter((h) => !lost.includes(h.name));

describe("placeWithoutLost", () => {
  it("gives a lost host's experts to the survivors by work per bandwidth and keeps everything else", () => {
    const r = placeWithoutLost(plan, new Set(["expert2"]), without(["expert2"]), plan.model.expertBytes, free) as Replacement;
    // expert2 held expert 7 of each layer; expert0 (12 GB/s) and expert1 (10 GB/s) remain
    expect(r.moved.map((m) => [m.layer, m.expert])).toEqual([[0, 7], [1, 7], [2, 7], [3, 7]]);
    const slots = (h: string) => plan.experts.filter((x) => x.hosts.includes(h)).length;
    const pick = (a: number, b: number) => ((a + 1) / 12e9 <= (b + 1) / 10e9 ? "expert0" : "expert1");
    let [a, b] = [slots("expert0"), slots("expert1")];
    for (const m of r.moved) {
      const want = pick(a, b);
      expect(m.host).toBe(want);
      if (want === "expert0") a++;
      else b++;
    }
    expect(r.placement.stages).toEqual(plan.stages);
    expect(r.placement.routers).toEqual(plan.routers);
    for (const x of r.placement.experts) expect(x.hosts).not.toContain("expert2");
    const unchanged = plan.experts.filter((x) => !x.hosts.includes("expert2"));
    for (const x of unchanged) expect(r.placement.experts.find((y) => y.layer === x.layer && y.expert === x.expert)!.hosts).toEqual(x.hosts);
    // deterministic
    expect(placeWithoutLost(plan, new Set(["expert2"]), without(["expert2"]), plan.model.expertBytes, free)).toEqual(r);
    // and a plan the planner accepts as an explicit placement
    const next = makePlan(cfg, { ...cluster, hosts: without(["expert2"]), placement: r.placement }, { dtype: "f32" });
    expect(next.fits).toBe(true);
    expect(next.experts.filter((x) => x.layer === 0 && x.expert === 7)[0]!.hosts).toEqual([r.moved[0]!.host]);
  });

  it("thins a replicated expert to its surviving replica (weights dropped)", () => {
    const r = placeWithoutLost(plan, new Set(["expert1"]), without(["expert1"]), plan.model.expertBytes, free) as Replacement;
    const e00 = r.placement.experts.find((x) => x.layer === 0 && x.expert === 0)!;
    expect(e00).toEqual({ layer: 0, expert: 0, hosts: ["expert0"] });
    expect(r.thinned).toBe(1);
    expect(r.moved.length).toBe(plan.experts.filter((x) => x.hosts.length === 1 && x.hosts[0] === "expert1").length);
  });

  it("asks for a fresh plan when a stage host is lost, and says so when orphans do not fit", () => {
    expect(placeWithoutLost(plan, new Set(["stage1"]), without(["stage1"]), plan.model.expertBytes, free)).toBeNull();
    const r = placeWithoutLost(plan, new Set(["expert2"]), without(["expert2"]), plan.model.expertBytes, () => plan.model.expertBytes - 1);
    expect(r).toEqual({ reason: expect.stringMatching(/^expert 7 of layer 0 lost its hosts \(expert2\) and no surviving expert host has \d+ bytes free for it$/) });
  });
});
