/**
 * `moe up --api-key` (launch's `apiKey`) and `moe loadtest` against the real
 * gateway of a real multi-process cluster (configs/clusters/local.yaml: 2
 * stages, 3 expert hosts, the gateway a child process, started with an API key
 * and a short `sequence_idle`; one cluster for both). The gateway refuses
 * requests without the key with 401 and serves those with it; /health stays
 * open; a sequence whose client died without releasing it is reclaimed on
 * every stage and counted in the gateway's /metrics. Then the load tester: a short concurrency sweep whose
 * server-side half is complete (every series the report reads exists under the
 * names the gateway exports, and the deltas add up to what was sent), chat
 * requests replayed from the shipped ShareGPT-shaped dataset, an open-loop
 * rate capped by --max-concurrency, the key refused and accepted, the CLI with
 * $OPENAI_API_KEY writing a sweep's JSON and HTML, and a stopped run whose
 * cancelled requests the gateway frees.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterMonitor, launch, stageEndpoints, type RunningCluster } from "../../control/index.js";
import {
  GatewayUnavailableError, PERCENTILE_COLORS, SERIES, WarmupFailedError, parsePrometheusText, prepare, renderSweepHtml, runLoadTest, runSweep,
  type LoadTestReport, type SweepReport,
} from "../../loadtest/index.js";
import { openModel } from "../../model/index.js";
import { PipelineClient } from "../../stages/index.js";
import { METRIC_NAMES } from "../../transport/index.js";
import { waitFor } from "../gateway/helpers.js";
import { CHROMIUM, HAVE_CHROMIUM, dumpDom, screenshot } from "../loadtest/chromium.js";
import { countColor } from "../loadtest/png.js";
import { MODEL_DIR, alive, tempDir } from "./helpers.js";
import { MOE_CLI } from "../moe-cli.js";

const KEY = "lt-s3cret";
const TOKENIZER = join(MODEL_DIR, "tokenizer.model");
const DATASET = "configs/datasets/sharegpt-tiny.json";
const tmp = tempDir("moe-loadtest-cluster-");
let cluster: RunningCluster | undefined;
let pids: number[] = [];
let url = "";
let topK = 0;

beforeAll(async () => {
  const m = openModel(MODEL_DIR);
  topK = m.config.nExpertsUsed;
  m.close();
  // the 8 s sequence idle timeout is for the reclaim test; no request of the load tests waits that long between steps
  cluster = await launch({ clusterFile: "configs/clusters/local.yaml", runDir: join(tmp.dir, "run"), gatewayPort: 0, warmupPasses: 1, apiKey: KEY, timeouts: { sequenceIdleMs: 8000 }, readyTimeoutMs: 100_000, loadIntervalMs: 60_000 });
  pids = cluster.states().map((s) => s.pid);
  url = cluster.gatewayUrl!;
});

afterAll(async () => {
  await cluster?.stop("test finished");
  tmp.cleanup();
  expect(pids.filter(alive)).toEqual([]);
});

/** Σ over completed requests of the tokens each layer routed: (prompt + output − 1) tokens pass the layers, each to topK experts. */
function routedPerLayer(r: LoadTestReport): number {
  return r.requests.filter((q) => q.status === "ok").reduce((a, q) => a + (q.serverPromptTokens! + q.outputTokens - 1) * topK, 0);
}

/** The server-side half of one point, checked against what the client sent. */
function expectServerSide(r: LoadTestReport): void {
  const sv = r.server;
  expect(sv.available).toBe(true);
  expect(sv.missing).toEqual([]); // every series the load tester reads is exported under that name
  expect(sv.generatedTokens).toBe(r.summary.outputTokens);
  expect(sv.perTokenBasis).toBe("server");
  expect(sv.stages!.map((s) => [s.stage, s.host])).toEqual([["0", "stage0"], ["1", "stage1"]]);
  for (const s of sv.stages!) expect(s.busyS).toBeGreaterThan(0);
  expect(sv.experts!.layers.map((l) => l.layer)).toEqual(["0", "1", "2", "3"]);
  for (const l of sv.experts!.layers) expect(l.total).toBe(routedPerLayer(r));
  expect(sv.ttftMs!.count).toBe(r.summary.completed);
  expect(sv.queueDepth!.length).toBeGreaterThanOrEqual(2);
}

// first: the reclaim test expects no reclaimed sequence before its own
describe("cluster gateway with an API key and an 8 s sequence idle timeout", () => {
  it("answers 401 without the key, 200 with it; /health needs none", async () => {
    const body = JSON.stringify({ prompt: [1, 300, 301], max_tokens: 3, temperature: 0 });
    const headers = { "content-type": "application/json" };
    const no = await fetch(`${url}/v1/completions`, { method: "POST", headers, body });
    expect(no.status).toBe(401);
    expect(((await no.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    const wrong = await fetch(`${url}/v1/completions`, { method: "POST", headers: { ...headers, authorization: "Bearer nope" }, body });
    expect(wrong.status).toBe(401);
    const yes = await fetch(`${url}/v1/completions`, { method: "POST", headers: { ...headers, authorization: `Bearer ${KEY}` }, body });
    expect(yes.status).toBe(200);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it("a sequence whose client died without releasing it is reclaimed on every stage and counted in /metrics", async () => {
    const metrics = async () => {
      const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
      return Number(/^moe_reclaimed_sequences_total (\S+)$/m.exec(await res.text())?.[1] ?? NaN);
    };
    expect(await metrics()).toBe(0);
    const monitor = new ClusterMonitor(cluster!.runtime);
    try {
      const orphan = new PipelineClient({ endpoints: stageEndpoints(cluster!.runtime), vocabSize: cluster!.runtime.model.vocabSize, name: "orphan" });
      await orphan.step([{ seq: 4_000_000_001, pos: 0, tokens: [1, 300, 301] }]);
      await orphan.close(); // gone without seq.release
      expect((await monitor.poll()).filter((s) => s.status?.stage).every((s) => s.status!.stage!.live === 1)).toBe(true);
      expect(await waitFor(async () => (await monitor.poll()).every((s) => (s.status?.stage?.live ?? 0) === 0), 20_000)).toBe(true);
      expect(await waitFor(async () => (await metrics()) === 1, 5_000)).toBe(true);
    } finally {
      await monitor.close();
    }
  });
});

describe("moe loadtest against the gateway of a real cluster", () => {
  it("sweeps --concurrency 1,3 with the API key: every request completes, the server-side section is complete and adds up", async () => {
    const sweep = await runSweep({ url, apiKey: KEY, concurrencies: [3, 1], requests: 6, promptTokens: "12:4", maxTokens: "6", seed: 5, metricsIntervalS: 0.5, temperature: 0 });
    expect(sweep.variable).toBe("concurrency");
    expect(sweep.curve.map((c) => c.load)).toEqual([1, 3]);
    for (const p of sweep.points) {
      expect(p.config).toMatchObject({ endpoint: "completions", warmup: 1, auth: { apiKey: true, headers: ["authorization"] } });
      expect(p.summary).toMatchObject({ total: 6, completed: 6, failed: 0, outputTokens: 36 });
      expect(p.summary.maxInFlight).toBeLessThanOrEqual(p.config.concurrency!);
      for (const q of p.requests) expect(q).toMatchObject({ outputTokens: 6, outputTokensSource: "usage", chunks: 6 });
      expect(p.requests.map((q) => q.serverPromptTokens)).toEqual(p.requests.map((q) => q.promptTokens));
      expectServerSide(p);
    }
    // the same seeded prompts at every point: the same tokens routed
    expect(sweep.points[0]!.server.experts!.layers[0]!.total).toBe(sweep.points[1]!.server.experts!.layers[0]!.total);
    const html = renderSweepHtml(sweep);
    expect(html).toContain("Time to first token against load");
    expect(html).toContain("stage 1 @ stage1 ms/token");
    expect(html).not.toContain(KEY);
    if (!HAVE_CHROMIUM) return console.warn(`SKIPPED the sweep page in Chromium: ${CHROMIUM} not installed (apt-get install -y chromium)`);
    // the page in a real browser: the percentile curves and the stage lines are drawn
    const file = join(tmp.dir, "sweep.html");
    writeFileSync(file, html);
    const img = await screenshot(tmp.dir, file, 1280, 2400);
    for (const [k, color] of Object.entries({ ...PERCENTILE_COLORS, stage0: "#4c78a8", stage1: "#f58518" })) expect(countColor(img, color), `pixels of ${k}`).toBeGreaterThan(150);
    // 6 charts against load, latency against throughput, stage time against load; the points' own plots are collapsed
    expect(/data-plots-rendered="(\d+)"/.exec(await dumpDom(tmp.dir, file))?.[1]).toBe("8");
  });

  it("replays the ShareGPT-shaped dataset as chat: deltas timed like text chunks, lengths from the tokenizer, reproducible by seed", async () => {
    const opts = { url, apiKey: KEY, endpoint: "chat" as const, dataset: DATASET, tokenizer: TOKENIZER, requests: 4, concurrency: 4, seed: 11, metricsIntervalS: 0.5 };
    const r = await runLoadTest(opts);
    expect(r.config.prompt).toMatchObject({ kind: "dataset", format: "sharegpt", entries: 200, used: 4, tokenizer: TOKENIZER });
    expect(r.summary).toMatchObject({ completed: 4, failed: 0 });
    for (const q of r.requests) {
      expect(q.promptTokens).toBeGreaterThan(0);
      // the chat template adds the role lines (and BOS) around the message
      expect(q.serverPromptTokens!).toBeGreaterThan(q.promptTokens!);
      // usage counts every token; a delta is timed when it carries text (the role-only first
      // chunk does not, nor does a token that ends inside a UTF-8 character)
      expect(q.outputTokens).toBe(q.maxTokens);
      expect(q.chunks).toBeGreaterThan(0);
      expect(q.chunks).toBeLessThanOrEqual(q.maxTokens);
    }
    expect(r.requests.some((q) => q.chunks === q.maxTokens)).toBe(true);
    expect(r.latencyMs.itl.count).toBe(r.requests.reduce((a, q) => a + q.chunks - 1, 0));
    expectServerSide(r);
    // the same seed draws the same conversations with the same lengths; another seed others
    const same = await prepare({ ...opts, requests: 3 });
    expect(same.prompts.map((q) => [q.promptTokens, q.maxTokens])).toEqual(r.requests.slice(0, 3).map((q) => [q.promptTokens, q.maxTokens]));
    const other = await prepare({ ...opts, requests: 3, seed: 12 });
    expect(other.prompts.map((q) => q.prompt)).not.toEqual(same.prompts.map((q) => q.prompt));
  });

  it("caps an open-loop rate with --max-concurrency; an explicit Authorization header works like the key", async () => {
    const r = await runLoadTest({ url, headers: { Authorization: `Bearer ${KEY}`, "X-Tenant": "loadtest" }, rate: Infinity, maxConcurrency: 2, requests: 6, promptTokens: "8", maxTokens: "5", metricsIntervalS: 0.2 });
    expect(r.config).toMatchObject({ mode: "open", rate: "inf", maxConcurrency: 2, auth: { apiKey: false, headers: ["authorization", "x-tenant"] } });
    expect(r.summary.completed).toBe(6);
    expect(r.summary.maxInFlight).toBe(2);
    expect(Math.max(...r.server.runningSequences!.map((p) => p.value))).toBeLessThanOrEqual(2);
  });

  it("without the key: /v1/models is refused with a fix naming --api-key; so is the warm-up when the model is given", async () => {
    const e1 = await runLoadTest({ url, requests: 1 }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(GatewayUnavailableError);
    expect((e1 as Error).message).toMatch(/HTTP 401.*--api-key/);
    const e2 = await runLoadTest({ url, model: "grok-1-tiny", apiKey: "wrong", warmup: 1, requests: 1 }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(WarmupFailedError);
    expect((e2 as Error).message).toMatch(/HTTP 401.*--api-key/);
  });

  it("the CLI: $OPENAI_API_KEY, --rate 2,4 --header, JSON and HTML of the sweep", async () => {
    const out = join(tmp.dir, "sweep.json"), html = join(tmp.dir, "sweep.html");
    const args = [...MOE_CLI, "loadtest", "--url", url, "--rate", "2,4", "--requests", "4", "--prompt-tokens", "8", "--max-tokens", "4", "--header", "X-Run: cli", "--metrics-interval", "0.5", "--out", out, "--html", html];
    // asynchronously: a blocked event loop would leave this process's idle keep-alive sockets to go stale unnoticed
    const r = await promisify(execFile)(process.execPath, args, { encoding: "utf8", timeout: 120_000, env: { ...process.env, OPENAI_API_KEY: KEY, CI: "1" } });
    expect(r.stdout).toMatch(/moe loadtest sweep \(rate\)/);
    const sweep = JSON.parse(readFileSync(out, "utf8")) as SweepReport;
    expect(sweep.schema).toBe("moe-loadtest-sweep/1");
    expect(sweep.curve.map((c) => [c.load, c.completed])).toEqual([[2, 4], [4, 4]]);
    expect(sweep.points[0]!.config.auth).toEqual({ apiKey: true, headers: ["authorization", "x-run"] });
    for (const p of sweep.points) expect(p.server.missing).toEqual([]);
    const page = readFileSync(html, "utf8");
    expect(page).toContain("moe loadtest sweep");
    expect(page).not.toContain(KEY);
  });

  it("a stopped run reports what ran and the gateway frees every cancelled request", async () => {
    const ctrl = new AbortController();
    const r = runLoadTest({ url, apiKey: KEY, requests: 20, concurrency: 3, promptTokens: "8", maxTokens: "400", signal: ctrl.signal, metricsIntervalS: 0 });
    setTimeout(() => ctrl.abort(), 1500);
    const report = await r;
    expect(report.summary.cancelled).toBe(3);
    expect(report.summary.total).toBe(3 + report.summary.completed + report.summary.failed);
    const deadline = Date.now() + 5000;
    let running = -1;
    while (Date.now() < deadline) {
      const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
      running = parsePrometheusText(text).find((s) => s.name === METRIC_NAMES.running)!.value;
      if (running === 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(running).toBe(0);
    expect(SERIES.running).toBe(METRIC_NAMES.running);
  });
});
