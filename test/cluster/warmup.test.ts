/**
 * The gateway's start-up warm-up through a real cluster (configs/clusters/local.yaml: 2 stage
 * processes, 3 expert hosts, the gateway, every one a real OS process): before `launch` resolves
 * the gateway has run its synthetic passes through every stage and expert host (their own counters
 * account for every warm-up token), released every synthetic sequence on every stage, kept its
 * tokens out of the clients' metrics, and what clients get afterwards equals the single process.
 * A warm-up that fails stops the start-up with an error naming the gateway process and the cause.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterMonitor, launch, StartupError, type LaunchEvent, type RunningCluster } from "../../control/index.js";
import type { Gateway } from "../../gateway/index.js";
import type { ServingModel } from "../../model/index.js";
import { MODEL, gatewayFor, loadTiny, post, scrape } from "../gateway/helpers.js";
import { alive, tempDir } from "./helpers.js";

const PASSES = 2;
const tmp = tempDir("moe-cluster-warm-");
let cluster: RunningCluster;
let single: ServingModel;
let ref: Gateway;
const events: LaunchEvent[] = [];
let pids: number[] = [];

beforeAll(async () => {
  [cluster, single] = await Promise.all([
    launch({ clusterFile: "configs/clusters/local.yaml", runDir: `${tmp.dir}/run`, gatewayPort: 0, warmupPasses: PASSES, readyTimeoutMs: 100_000, loadIntervalMs: 60_000, onEvent: (e) => events.push(e) }),
    loadTiny(),
  ]);
  pids = cluster.states().map((s) => s.pid);
  ref = await gatewayFor(single);
});

afterAll(async () => {
  await cluster?.stop("test finished");
  await ref?.close();
  await single?.close();
  expect(pids.filter(alive)).toEqual([]);
  tmp.cleanup();
});

describe("start-up warm-up through the cluster", () => {
  it("ran every warm-up token through every stage and expert host before ready, and released every sequence", async () => {
    // the launcher heard the gateway start warming, then its readiness
    const warming = events.findIndex((e) => e.kind === "warming" && e.process.role === "gateway" && e.passes === PASSES);
    expect(warming).toBeGreaterThanOrEqual(0);
    const gwReady = events.find((e) => e.kind === "ready" && e.process.role === "gateway");
    expect(events.indexOf(gwReady!)).toBeGreaterThan(warming);
    expect(gwReady?.kind === "ready" && gwReady.warmup).toBeTruthy();
    const w = gwReady!.kind === "ready" ? gwReady!.warmup! : undefined!;
    expect(w.passes).toBe(PASSES);
    // 16 requests per micro-batch the pipeline keeps in flight (2 stages), 32 greedy tokens each, EOS ignored
    expect(w.sequences).toBe(32);
    expect(w.generatedTokens).toBe(PASSES * w.sequences * 32);
    const monitor = new ClusterMonitor(cluster.runtime);
    try {
      const states = await monitor.poll();
      const stages = states.filter((s) => s.process.role === "stage");
      expect(stages).toHaveLength(2);
      // every synthetic sequence: 16 prompt rows, then 31 decode rows (the 32nd token is never fed back)
      const rows = PASSES * w.sequences * (16 + 31);
      for (const s of stages) {
        expect(s.up).toBe(true);
        expect(s.status!.stage!.rows).toBe(rows);
        expect(s.status!.stage!.failures).toBe(0);
        expect(s.status!.stage!.live).toBe(0); // every KV cache released
        expect(s.status!.stage!.reclaimed).toBe(0); // released by the gateway, not reclaimed after a timeout
      }
      // each row of each layer goes to its top-2 experts: every expert host together served exactly that many rows
      const expertRows = states.filter((s) => s.process.role === "expert").reduce((a, s) => a + s.status!.expert!.rows, 0);
      expect(expertRows).toBe(rows * single.config.nLayers * 2);
    } finally {
      await monitor.close();
    }
    const m = await scrape(cluster.gatewayUrl!);
    expect(m.get("moe_warmup_passes_total")).toBe(PASSES);
    expect(m.get("moe_warmup_tokens_total")).toBe(w.generatedTokens);
    expect(m.get("moe_warmup_seconds")).toBeGreaterThan(0);
    // the clients' series start from zero
    expect(m.get("moe_generated_tokens_total")).toBe(0);
    expect(m.get("moe_prompt_tokens_total")).toBe(0);
    expect(m.get("moe_step_seconds_count")).toBe(0);
    expect(m.get("moe_kv_sequences")).toBe(0);
    expect(m.get("moe_running_sequences")).toBe(0);
  });

  it("clients then get what the single process gives (greedy, prompt ids and text)", async () => {
    for (const prompt of [[1, 42, 203, 17, 99], "The answer to life the universe and everything is"]) {
      const body = { model: MODEL, prompt, max_tokens: 12, temperature: 0, ignore_eos: true };
      const [c, l] = await Promise.all([post(`${cluster.gatewayUrl}/v1/completions`, body), post(`${ref.url}/v1/completions`, body)]);
      expect(c.status).toBe(200);
      const [cj, lj] = (await Promise.all([c.json(), l.json()])) as { choices: { text: string }[]; usage: unknown }[];
      expect(cj!.choices[0]!.text).toBe(lj!.choices[0]!.text);
      expect(cj!.usage).toEqual(lj!.usage);
    }
    const m = await scrape(cluster.gatewayUrl!);
    expect(m.get("moe_generated_tokens_total")).toBe(24);
  });
});

describe("a warm-up that fails", () => {
  it("stops the start-up with an error naming the gateway process and the failed step; nothing is left running", async () => {
    const started: number[] = [];
    // a 1 ms step deadline: no pipeline step can answer in time, so the first warm-up pass fails
    const err = await launch({
      clusterFile: "configs/clusters/local.yaml",
      runDir: `${tmp.dir}/fail`,
      gatewayPort: 0,
      warmupPasses: 1,
      timeouts: { stepMs: 1 },
      readyTimeoutMs: 100_000,
      onEvent: (e) => void (e.kind === "starting" && started.push(e.pid)),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    const e = err as StartupError & { process?: string };
    expect(e.process).toBe("gateway");
    expect(e.message).toMatch(/process gateway \(gateway on stage0\)/);
    expect(e.message).toMatch(/warm-up pass 1 of 1 failed: .*within 1 ms/);
    expect(started.length).toBeGreaterThan(1);
    expect(started.filter(alive)).toEqual([]);
  });
});
