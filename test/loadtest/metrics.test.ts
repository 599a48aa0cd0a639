import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { bucketQuantile, parsePrometheusText, summarizeServerMetrics, type MetricsScrape } from "../../loadtest/index.js";

const TEXT = `# HELP moe_queue_depth Sequences waiting for a slot.
# TYPE moe_queue_depth gauge
moe_queue_depth 3
# HELP moe_expert_tokens_total Tokens routed to an expert.
# TYPE moe_expert_tokens_total counter
moe_expert_tokens_total{layer="0",expert="0"} 1200
moe_expert_tokens_total{expert="1",layer="0"} 400 1700000000000
moe_expert_tokens_total{layer="0",expert="2",} 400
moe_stage_busy_seconds_total{stage="0",host="gpu-a.local"} 12.5
moe_weird{path="C:\\\\x",msg="say \\"hi\\"\\nbye"} NaN
moe_ttft_seconds_bucket{le="0.1"} 5
moe_ttft_seconds_bucket{le="+Inf"} 7
moe_ttft_seconds_sum 0.9
moe_ttft_seconds_count 7
moe_big 1.5e+3
moe_inf -Inf
this is not a metric line {
`;

describe("Prometheus text parser", () => {
  it("parses names, labels (any order, escapes, trailing comma), values and skips comments/timestamps", () => {
    const s = parsePrometheusText(TEXT);
    const get = (name: string, labels: Record<string, string> = {}) => s.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    expect(get("moe_queue_depth")?.value).toBe(3);
    expect(get("moe_expert_tokens_total", { layer: "0", expert: "1" })?.value).toBe(400);
    expect(get("moe_expert_tokens_total", { expert: "2" })?.labels).toEqual({ layer: "0", expert: "2" });
    expect(get("moe_stage_busy_seconds_total")?.labels.host).toBe("gpu-a.local");
    const weird = get("moe_weird")!;
    expect(weird.labels).toEqual({ path: "C:\\x", msg: 'say "hi"\nbye' });
    expect(weird.value).toBeNaN();
    expect(get("moe_ttft_seconds_bucket", { le: "+Inf" })?.value).toBe(7);
    expect(get("moe_big")?.value).toBe(1500);
    expect(get("moe_inf")?.value).toBe(-Infinity);
    expect(s.some((x) => x.name === "this")).toBe(false);
  });

  it("reads what prom-client exposes", async () => {
    const reg = new Registry();
    const c = new Counter({ name: "moe_stage_busy_seconds_total", help: "busy", labelNames: ["stage", "host"], registers: [reg] });
    const h = new Histogram({ name: "moe_itl_seconds", help: "itl", buckets: [0.01, 0.1], registers: [reg] });
    c.inc({ stage: "1", host: "h" }, 2.25);
    h.observe(0.05);
    const s = parsePrometheusText(await reg.metrics());
    expect(s.find((x) => x.name === "moe_stage_busy_seconds_total")).toEqual({ name: "moe_stage_busy_seconds_total", labels: { stage: "1", host: "h" }, value: 2.25 });
    expect(s.filter((x) => x.name === "moe_itl_seconds_bucket").map((x) => [x.labels.le, x.value])).toEqual([["0.01", 0], ["0.1", 1], ["+Inf", 1]]);
  });
});

function scrape(tS: number, text: string): MetricsScrape {
  return { tS, samples: parsePrometheusText(text) };
}

describe("server-side summary from scrapes", () => {
  const before = scrape(0, `moe_generated_tokens_total 1000
moe_expert_tokens_total{layer="0",expert="0"} 100
moe_expert_tokens_total{layer="0",expert="1"} 100
moe_expert_tokens_total{layer="1",expert="0"} 10
moe_expert_tokens_total{layer="1",expert="1"} 10
moe_stage_busy_seconds_total{stage="0",host="a"} 10
moe_stage_busy_seconds_total{stage="1",host="b"} 50
moe_queue_depth 0
moe_ttft_seconds_bucket{le="0.1"} 0
moe_ttft_seconds_bucket{le="0.2"} 0
moe_ttft_seconds_bucket{le="+Inf"} 0
moe_ttft_seconds_sum 0
moe_ttft_seconds_count 0`);
  const mid = scrape(1, `moe_generated_tokens_total 1100\nmoe_queue_depth{host="x"} 4\nmoe_queue_depth{host="y"} 1`);
  const after = scrape(2, `moe_generated_tokens_total 1200
moe_expert_tokens_total{layer="0",expert="0"} 400
moe_expert_tokens_total{layer="0",expert="1"} 200
moe_expert_tokens_total{layer="1",expert="0"} 110
moe_expert_tokens_total{layer="1",expert="1"} 110
moe_stage_busy_seconds_total{stage="0",host="a"} 11
moe_stage_busy_seconds_total{stage="1",host="b"} 2
moe_queue_depth 2
moe_ttft_seconds_bucket{le="0.1"} 50
moe_ttft_seconds_bucket{le="0.2"} 100
moe_ttft_seconds_bucket{le="+Inf"} 100
moe_ttft_seconds_sum 10
moe_ttft_seconds_count 100`);

  it("reports deltas: stage ms per generated token, expert skew per layer, queue series, histogram", () => {
    const r = summarizeServerMetrics([before, mid, after], 999, 2);
    expect(r.available).toBe(true);
    expect(r.generatedTokens).toBe(200);
    expect(r.perTokenBasis).toBe("server");
    expect(r.stages).toEqual([
      { stage: "0", host: "a", busyS: 1, busyMsPerToken: 5, utilization: 0.5 },
      // counter went down: restarted, so the delta is the new value
      { stage: "1", host: "b", busyS: 2, busyMsPerToken: 10, utilization: 1 },
    ]);
    const [l0, l1] = r.experts!.layers;
    expect(l0).toMatchObject({ layer: "0", experts: ["0", "1"], tokens: [300, 100], total: 400, mean: 200, max: 300, skew: 1.5, hottest: "0" });
    expect(l1).toMatchObject({ tokens: [100, 100], skew: 1 });
    expect(r.experts!.maxSkew).toBe(1.5);
    expect(r.experts!.meanSkew).toBe(1.25);
    expect(r.queueDepth).toEqual([{ tS: 0, value: 0 }, { tS: 1, value: 5 }, { tS: 2, value: 2 }]);
    expect(r.tokensPerS).toEqual([{ tS: 0.5, value: 100 }, { tS: 1.5, value: 100 }]);
    expect(r.ttftMs!.count).toBe(100);
    expect(r.ttftMs!.mean).toBeCloseTo(100, 9);
    expect(r.ttftMs!.p50).toBeCloseTo(100, 9);
    expect(r.ttftMs!.p90).toBeCloseTo(180, 9);
    expect(r.missing).toEqual(["moe_running_sequences", "moe_itl_seconds", "moe_host_errors_total"]);
    expect(r.itlMs).toBeNull();
    expect(r.hostErrors).toBeNull();
  });

  it("is 'not available' with the reason when no scrape worked, and falls back to client tokens", () => {
    const none = summarizeServerMetrics([{ tS: 0, samples: null, error: "GET /metrics answered HTTP 404" }], 10, 1);
    expect(none).toMatchObject({ available: false, reason: "GET /metrics answered HTTP 404", stages: null, experts: null, queueDepth: null });
    const noGen = summarizeServerMetrics([scrape(0, 'moe_stage_busy_seconds_total{stage="0",host="a"} 1'), scrape(1, 'moe_stage_busy_seconds_total{stage="0",host="a"} 3')], 400, 1);
    expect(noGen.perTokenBasis).toBe("client");
    expect(noGen.stages![0]!.busyMsPerToken).toBe(5);
    expect(noGen.experts).toBeNull();
  });

  it("bucket quantiles interpolate inside the bucket like histogram_quantile", () => {
    expect(bucketQuantile([[1, 10], [2, 20], [Infinity, 20]], 0.75)).toBeCloseTo(1.5, 12);
    expect(bucketQuantile([[1, 0], [Infinity, 10]], 0.5)).toBe(1);
    expect(bucketQuantile([], 0.5)).toBeNaN();
  });
});
