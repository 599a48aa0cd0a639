/**
 * A router in a process of its own (DESIGN §2): the plan puts stage 0's
 * router on a host of its own, so `moe up` starts a router process there and
 * stage 0 sends it `router.request`s; stage 1 keeps its router in-process.
 * Generation equals the single-process engine exactly, and the per-expert
 * token counts come from both kinds of router.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { MODEL_DIR, lockstep, prompts, reference, startCluster, tempDir, type Started, tearDown } from "./helpers.js";

describe("cluster: a router process of its own", () => {
  const tmp = tempDir("moe-router-proc-");
  let ref: Awaited<ReturnType<typeof reference>>;
  let c: Started | undefined;

  beforeAll(async () => {
    ref = await reference();
    const cfg = ref.config;
    const host = (name: string, roles: string[]) => ({ name, device: "cpu-local", address: "127.0.0.1", roles, threads: 1 });
    const file = join(tmp.dir, "router-proc.yaml");
    writeFileSync(
      file,
      stringify({
        name: "router-proc",
        model: MODEL_DIR,
        dtype: "f32",
        hosts: [host("s0", ["stage"]), host("s1", ["stage", "router"]), host("r0", ["router"]), host("e0", ["expert"]), host("e1", ["expert"])],
        placement: {
          stages: [
            { host: "s0", layers: [0, 2] },
            { host: "s1", layers: [2, cfg.nLayers] },
          ],
          routers: [
            { stage: 0, host: "r0" },
            { stage: 1, host: "s1" },
          ],
          experts: Array.from({ length: cfg.nLayers * cfg.nExperts }, (_, k) => ({ layer: Math.floor(k / cfg.nExperts), expert: k % cfg.nExperts, hosts: [k % 2 ? "e1" : "e0"] })),
        },
      }),
    );
    c = await startCluster(file, join(tmp.dir, "run"));
  });

  afterAll(() => tearDown(c, ref, tmp));

  it("lays the router out as its own process and stage 0 talks to it", () => {
    const rt = c!.cluster.runtime;
    const router = rt.processes.find((p) => p.role === "router")!;
    expect(router).toMatchObject({ name: "r0", host: "r0", routerOf: { index: 0, layers: [0, 2] } });
    const s0 = rt.processes.find((p) => p.name === "s0")!;
    expect(s0.stage!.routerEndpoint).toBe(router.endpoint);
    expect(rt.processes.find((p) => p.name === "s1")!.stage!.routerEndpoint).toBeNull();
  });

  it("generates exactly as the single process; both routers count their experts' tokens", async () => {
    const r = await lockstep(c!.client, ref.backend, prompts(ref.config, [2, 7, 15, 1]), 10, 700);
    expect(r.maxRelError).toBe(0);
    expect(r.tokens).toEqual(r.refTokens);
    await c!.monitor.poll();
    const load = c!.monitor.expertLoad();
    const perLayer = load.map((row) => row.reduce((a, b) => a + b, 0));
    expect(perLayer.every((n) => n > 0)).toBe(true); // layers 0–1 from r0, 2–3 from s1
  });
});
