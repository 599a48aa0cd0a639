/**
 * `moe plan --calibrate`: the bench file is validated with errors naming the
 * field; the fit recovers known software costs from figures the cost model
 * itself produced; calibration moves predictions the way the measurements
 * say; plan.json records it; the CLI reads a bench file.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { presetConfig } from "../../model/index.js";
import {
  CalibrationError,
  DEFAULT_COST_OPTIONS,
  calibrate,
  evaluatePlacement,
  explicitPlacement,
  fitLinear,
  layerPhase,
  loadBenchFile,
  makePlan,
  modelCosts,
  parseBenchFile,
  pipelineMessages,
  replicasByLayer,
  resolveCostOptions,
  resolveWorkload,
  routingShares,
  type BenchFile,
  type CostOptions,
  type PlanJson,
  type Placement,
} from "../../planner/index.js";
import { loadCluster } from "../clusters.js";
import { MOE_CLI } from "../moe-cli.js";

const cfg = presetConfig("grok-1-tiny");
const local = loadCluster("configs/clusters/local.yaml");
const dir = mkdtempSync(join(tmpdir(), "moe-calibrate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SETTINGS = { promptTokens: 16, warmupSteps: 3, decodeSteps: 32 };
const CONTEXT = 51;

/** A bench file as `moe bench cluster --json` writes it (the fields the calibration reads, plus some it ignores). */
function bench(o: { single: [number, number]; rtt: [number, number]; inProcess?: [number, number]; inStep?: [number, number]; pipeline?: number; cluster?: [number, number]; messages?: [number, number]; hosts?: [number, number]; sequential?: number | null }): Record<string, unknown> {
  const [s1, s16] = o.single;
  const [c1, c16] = o.cluster ?? [s1 / 4, s16 / 4];
  const [m1, m16] = o.inStep ?? [0.05, 0.1];
  return {
    schema: "moe-bench-cluster/2",
    createdAt: "2026-01-01T00:00:00.000Z",
    machine: { cpus: 2, node: "v20", platform: "linux", arch: "x64", loadAverage: [0.5, 0.4, 0.3] },
    model: { name: "grok-1-tiny", dModel: 256, layers: 4, experts: 8, expertsPerToken: 2, vocabSize: 2048 },
    cluster: { file: "configs/clusters/local.yaml", name: "local", stages: 2, expertHosts: 3, processes: 5, wireDtype: "f32", threads: 1 },
    settings: { ...SETTINGS, roundTripCalls: 40, traceCalls: 40 },
    decode: [
      { concurrency: 1, backend: "single", microBatches: 1, tokensPerSecond: s1, msPerToken: 1000 / s1, clusterOverSingle: null, moeMsPerLayer: m1 },
      { concurrency: 1, backend: "cluster", microBatches: 1, tokensPerSecond: c1, msPerToken: 1000 / c1, clusterOverSingle: c1 / s1 },
      { concurrency: 16, backend: "single", microBatches: 1, tokensPerSecond: s16, msPerToken: 16_000 / s16, clusterOverSingle: null, moeMsPerLayer: m16 },
      { concurrency: 16, backend: "cluster", microBatches: 1, tokensPerSecond: c16, msPerToken: 16_000 / c16, clusterOverSingle: c16 / s16 },
      { concurrency: 16, backend: "cluster", microBatches: 2, tokensPerSecond: c16, msPerToken: 16_000 / c16, clusterOverSingle: c16 / s16 },
    ],
    roundTrip: [1, 16].map((rows, i) => ({ rows, messages: (o.messages ?? [2, 3])[i], hosts: (o.hosts ?? [2, 3])[i], bytesOut: 4144 * rows, bytesBack: 4016 * rows, clusterMs: o.rtt[i]! * 0.8, clusterMeanMs: o.rtt[i], inProcessMs: (o.inProcess ?? [0.1, 0.5])[i], rawMs: 0.05, rawInProcessMs: 0.03, clusterOverRaw: o.rtt[i]! / 0.05, layers: [] })),
    // protocol v2: seq.release to both stages at once, 4 messages, 2 one after the other (a file from before v2 has no `sequential`)
    pipeline: { roundTripMs: (o.pipeline ?? 2) * 0.8, meanMs: o.pipeline ?? 2, messages: 4, ...(o.sequential === null ? {} : { sequential: o.sequential ?? 2 }) },
    wire: { bytesPerTokenPerLayer: 8000, bytesPerProcessedTokenPerLayer: 5000, payloadBytesPerTokenPerLayer: 4096 },
    breakdown: [],
  };
}

/**
 * What the cost model predicts with `truth`: single-process tok/s at 1 and 16 and the MoE inside those steps (ms per
 * layer: the experts of 1 and 16 rows, as in process), in-process MoE and round trip ms at 1 and 16 rows, the
 * pipeline round trip, the cluster's tok/s.
 */
function figuresFrom(truth: Partial<CostOptions>): { single: [number, number]; inStep: [number, number]; inProcess: [number, number]; rtt: [number, number]; pipeline: number; cluster: [number, number] } {
  const o = { dtype: "f32" as const, context: CONTEXT, promptTokens: 16 };
  const workload = resolveWorkload(cfg, o);
  const opts = { ...resolveCostOptions(local, o), ...truth, machineCores: 0 };
  const mc = modelCosts(cfg, "f32", workload, opts);
  const shares = routingShares(cfg);
  const host = local.hosts[0]!;
  const whole: Placement = {
    stages: [{ host: 0, first: 0, end: 4 }],
    experts: Array.from({ length: 32 }, (_, i) => ({ layer: Math.floor(i / 8), expert: i % 8, hosts: [0], weights: [1] })),
    routers: [0],
    gateway: null,
  };
  const single = [1, 16].map((b) => b / evaluatePlacement(mc, [host], whole, { ...workload, concurrency: b }, shares, opts).stepSeconds) as [number, number];
  const together = replicasByLayer(4, whole.experts, shares);
  const inProcess = [1, 16].map((R) => (1000 * together.reduce((a, reps) => a + layerPhase(mc, [host], 0, reps, R, opts).expertSeconds, 0)) / 4) as [number, number];
  const p = explicitPlacement(local.placement!, local.hosts, 4, 8, "local.yaml");
  const per = replicasByLayer(4, p.experts, shares);
  const stageOf = (l: number) => p.stages.find((s) => l >= s.first && l < s.end)!.host;
  const rtt = [1, 16].map((R) => (1000 * [0, 1, 2, 3].reduce((a, l) => a + layerPhase(mc, local.hosts, stageOf(l), per[l]!, R, opts).seconds, 0)) / 4) as [number, number];
  const cluster = [1, 16].map((c) => makePlan(cfg, local, { ...o, concurrency: c, cost: { ...truth, machineCores: 2 } }).predicted.decodeTokensPerSecondAggregate) as [number, number];
  // seq.release to 2 stages at once: a request and its reply one after the other, each wire (local.yaml: 50 µs, 2 GB/s) + software
  const small = opts.messageOverheadBytes;
  const pipeline = 1000 * 2 * (50e-6 + small / 2e9 + opts.pipelineMessageSeconds + small * opts.messageSecondsPerByte);
  return { single, inStep: inProcess, inProcess, rtt, pipeline, cluster };
}

const parse = (raw: unknown): BenchFile => parseBenchFile(raw, "bench.json");

/** Software costs of a slow machine, to make figures from. */
const TRUTH: Partial<CostOptions> = { computeScale: 3, stageLayerSeconds: 200e-6, expertComputeScale: 2, sessionSeconds: 100e-6, messageSeconds: 300e-6, messageSecondsPerByte: 1e-9, pipelineMessageSeconds: 500e-6 };

describe("the bench file", () => {
  it("accepts what moe bench cluster --json writes", () => {
    const b = parse(bench({ single: [500, 2000], rtt: [1, 2] }));
    expect(b.source).toBe("bench.json");
    expect(b.decode).toHaveLength(5);
  });

  it("rejects a bad file with an error naming the field", () => {
    const bad = (mutate: (b: Record<string, unknown>) => void) => {
      const b = bench({ single: [500, 2000], rtt: [1, 2] });
      mutate(b);
      try {
        parse(b);
      } catch (e) {
        expect(e).toBeInstanceOf(CalibrationError);
        return (e as CalibrationError & { field?: string }).field + " | " + (e as Error).message;
      }
      throw new Error("accepted a bad bench file");
    };
    expect(bad((b) => (b.schema = "moe-loadtest/1"))).toMatch(/^schema \| bench\.json: schema: /);
    expect(bad((b) => ((b.decode as { tokensPerSecond: unknown }[])[2]!.tokensPerSecond = "fast"))).toMatch(/^decode\[2\]\.tokensPerSecond \| bench\.json: decode\[2\]\.tokensPerSecond: /);
    expect(bad((b) => ((b.roundTrip as { clusterMeanMs: unknown }[])[1]!.clusterMeanMs = -1))).toMatch(/^roundTrip\[1\]\.clusterMeanMs \| /);
    expect(bad((b) => delete b.pipeline)).toMatch(/^pipeline \| /);
    expect(bad((b) => delete (b.machine as Record<string, unknown>).cpus)).toMatch(/^machine\.cpus \| /);
    expect(bad((b) => (b.decode = (b.decode as { backend: string }[]).filter((d) => d.backend !== "single" || (d as unknown as { concurrency: number }).concurrency === 1)))).toMatch(/^decode \| .*single-process rows at two concurrencies/);
    expect(bad((b) => (b.roundTrip = (b.roundTrip as unknown[]).slice(0, 1)))).toMatch(/^roundTrip \| .*two row counts/);
    // a single-process row without the in-step MoE
    expect(bad((b) => delete (b.decode as Record<string, unknown>[])[2]!.moeMsPerLayer)).toMatch(/^decode\[2\]\.moeMsPerLayer \| bench\.json: decode\[2\]\.moeMsPerLayer: .*MoE per layer inside its decode steps/);
  });

  it("refuses a file from before the in-step MoE figure (schema moe-bench-cluster/1), naming the field and the fix", () => {
    const b = bench({ single: [500, 2000], rtt: [1, 2] });
    b.schema = "moe-bench-cluster/1";
    for (const d of b.decode as Record<string, unknown>[]) delete d.moeMsPerLayer;
    let err: (CalibrationError & { field?: string; fix?: string }) | undefined;
    try {
      parse(b);
    } catch (e) {
      err = e as CalibrationError;
    }
    expect(err).toBeInstanceOf(CalibrationError);
    expect(err!.field).toBe("decode[0].moeMsPerLayer");
    expect(err!.message).toMatch(/^bench\.json: schema moe-bench-cluster\/1 has no decode\[0\]\.moeMsPerLayer/);
    expect(err!.fix).toMatch(/rerun `moe bench cluster --json`.*moe-bench-cluster\/2/);
  });
});

describe("calibration", () => {
  const o = { dtype: "f32" as const };

  it("recovers known software costs from figures the cost model produced, and then predicts what it was given", () => {
    // (a tiny expert is read-bound at 1 and at 16 rows, so its scale and its run overhead cannot be told apart:
    // the fit keeps the overhead 0, and so does this truth)
    const truth = { computeScale: 3.5, stageLayerSeconds: 300e-6, expertComputeScale: 1.5, sessionSeconds: 0, messageSeconds: 400e-6, messageSecondsPerByte: 3e-9, pipelineMessageSeconds: 700e-6 };
    const f = figuresFrom(truth);
    const cal = calibrate(cfg, local, parse(bench(f)), o);
    expect(cal.fitted.computeScale).toBeCloseTo(truth.computeScale, 6);
    expect(cal.fitted.stageLayerSeconds / truth.stageLayerSeconds).toBeCloseTo(1, 6);
    expect(cal.fitted.expertComputeScale).toBeCloseTo(truth.expertComputeScale, 6);
    expect(cal.fitted.sessionSeconds).toBe(0);
    expect(cal.fitted.messageSeconds / truth.messageSeconds).toBeCloseTo(1, 4);
    expect(cal.fitted.messageSecondsPerByte / truth.messageSecondsPerByte).toBeCloseTo(1, 4);
    expect(cal.fitted.pipelineMessageSeconds / truth.pipelineMessageSeconds).toBeCloseTo(1, 4);
    expect(cal.fitted.dispatchPer).toBe("host");
    expect(cal.fitted.machineCores).toBe(2);
    expect(cal.context).toBe(CONTEXT);
    for (const c of cal.check) expect(Math.abs(c.error)).toBeLessThan(1e-4);
  });

  it("each measurement moves its own terms: round trips → message costs, single process less its in-step MoE → stage compute, in-process MoE → experts, pipeline → pipeline messages", () => {
    const f = figuresFrom(TRUTH);
    const base = calibrate(cfg, local, parse(bench(f)), o);
    const slowWire = calibrate(cfg, local, parse(bench({ ...f, rtt: [f.rtt[0] * 2, f.rtt[1] * 2] })), o);
    expect(slowWire.fitted.messageSeconds).toBeGreaterThan(base.fitted.messageSeconds * 1.5);
    expect(slowWire.fitted.computeScale).toBeCloseTo(base.fitted.computeScale, 9);
    expect(slowWire.check[0]!.predictedTokensPerSecond).toBeLessThan(base.check[0]!.predictedTokensPerSecond * 0.8);
    const fastCpu = calibrate(cfg, local, parse(bench({ ...f, single: [f.single[0] * 2, f.single[1] * 2] })), o);
    expect(fastCpu.fitted.computeScale).toBeLessThan(base.fitted.computeScale * 0.75);
    expect(fastCpu.fitted.expertComputeScale).toBeCloseTo(base.fitted.expertComputeScale, 9);
    expect(fastCpu.check[0]!.predictedTokensPerSecond).toBeGreaterThan(base.check[0]!.predictedTokensPerSecond);
    // more of the same single-process step in its MoE: less left for the stages, a faster cluster at concurrency 1
    const moeHeavier = calibrate(cfg, local, parse(bench({ ...f, inStep: [f.inStep[0] * 1.5, f.inStep[1] * 1.5] })), o);
    expect(moeHeavier.fitted.computeScale).toBeLessThan(base.fitted.computeScale);
    expect(moeHeavier.fitted.expertComputeScale).toBeCloseTo(base.fitted.expertComputeScale, 9);
    expect(moeHeavier.fitted.messageSeconds).toBeGreaterThanOrEqual(0);
    expect(moeHeavier.check[0]!.predictedTokensPerSecond).toBeGreaterThan(base.check[0]!.predictedTokensPerSecond);
    expect(moeHeavier.measured.stageSeconds[0]!.seconds).toBeCloseTo(base.measured.stageSeconds[0]!.seconds - (4 * f.inStep[0] * 0.5) / 1000, 12);
    const slowExperts = calibrate(cfg, local, parse(bench({ ...f, inProcess: [f.inProcess[0] * 2, f.inProcess[1] * 2] })), o);
    expect(slowExperts.fitted.expertComputeScale).toBeGreaterThan(base.fitted.expertComputeScale * 1.5);
    const slowPipeline = calibrate(cfg, local, parse(bench({ ...f, pipeline: f.pipeline * 3 })), o);
    expect(slowPipeline.fitted.pipelineMessageSeconds).toBeGreaterThan(base.fitted.pipelineMessageSeconds * 2);
    expect(slowPipeline.fitted.messageSeconds).toBeCloseTo(base.fitted.messageSeconds, 12);
    expect(slowPipeline.check[0]!.predictedTokensPerSecond).toBeLessThan(base.check[0]!.predictedTokensPerSecond);
  });

  it("checks the calibrated prediction against the cluster's measured decode rates, and a plan records it in assumptions", () => {
    const f = figuresFrom(TRUTH);
    const cal = calibrate(cfg, local, parse(bench({ ...f, cluster: [40, 200] })), o);
    expect(cal.check.map((c) => c.concurrency)).toEqual([1, 16]);
    for (const c of cal.check) {
      expect(c.measuredTokensPerSecond).toBe(c.concurrency === 1 ? 40 : 200);
      expect(c.error).toBeCloseTo(c.predictedTokensPerSecond / c.measuredTokensPerSecond - 1, 12);
    }
    const plain = makePlan(cfg, local, { dtype: "f32", concurrency: 1 });
    const planned: PlanJson = makePlan(cfg, local, { dtype: "f32", concurrency: 1, cost: cal.fitted, calibration: cal });
    expect(plain.assumptions.calibration).toBeUndefined();
    expect(plain.assumptions.messageSeconds).toBe(DEFAULT_COST_OPTIONS.messageSeconds);
    expect(planned.assumptions.calibration?.source).toBe("bench.json");
    expect(planned.assumptions).toMatchObject(cal.fitted);
    expect(planned.predicted.decodeTokensPerSecond).toBeLessThan(plain.predicted.decodeTokensPerSecond);
    expect(planned.predicted.breakdown.softwareSeconds).toBeGreaterThan(plain.predicted.breakdown.softwareSeconds);
  });

  it("one dispatch per host when the bench sent no more messages than hosts, one per expert when it sent more (a bench from before protocol v2)", () => {
    const f = figuresFrom(TRUTH);
    expect(calibrate(cfg, local, parse(bench({ ...f, messages: [2, 3] })), o).fitted.dispatchPer).toBe("host");
    expect(calibrate(cfg, local, parse(bench({ ...f, messages: [2, 8] })), o).fitted.dispatchPer).toBe("expert");
  });

  it("a pipeline round trip counts its messages one after the other: 2 since protocol v2, all of them in a file from before", () => {
    const f = figuresFrom(TRUTH);
    const v2 = calibrate(cfg, local, parse(bench(f)), o);
    const v1 = calibrate(cfg, local, parse(bench({ ...f, sequential: null })), o);
    expect(v2.measured.pipelineMessageSeconds).toBeCloseTo(f.pipeline / 1000 / 2, 12);
    expect(v1.measured.pipelineMessageSeconds).toBeCloseTo(f.pipeline / 1000 / 4, 12);
    expect(v1.fitted.pipelineMessageSeconds).toBeLessThan(v2.fitted.pipelineMessageSeconds);
  });

  it("charges stages + 1 pipeline messages per step (stage.input, the stage hops, stage.tokens straight back), each on the critical path", () => {
    const o1 = { dtype: "f32" as const, context: CONTEXT, promptTokens: 16, concurrency: 1 };
    const workload = resolveWorkload(cfg, o1);
    const shares = routingShares(cfg);
    const p = explicitPlacement(local.placement!, local.hosts, 4, 8, "local.yaml");
    const placement: Placement = { ...p, gateway: 0 };
    const soft = (pipe: number) => {
      const opts = { ...resolveCostOptions(local, o1), messageSecondsPerByte: 0, pipelineMessageSeconds: pipe, machineCores: 0 };
      const e = evaluatePlacement(modelCosts(cfg, "f32", workload, opts), local.hosts, placement, workload, shares, opts);
      return { software: e.breakdown.softwareSeconds, step: e.stepSeconds };
    };
    const [a, b] = [soft(0), soft(1e-3)];
    expect(pipelineMessages(2)).toBe(3);
    expect((b.software - a.software) / 1e-3).toBeCloseTo(pipelineMessages(placement.stages.length), 9);
    expect((b.step - a.step) / 1e-3).toBeCloseTo(3, 9);
  });

  it("refuses a bench of another model, naming the field", () => {
    const b = bench({ single: [500, 2000], rtt: [1, 2] });
    (b.model as Record<string, unknown>).layers = 64;
    expect(() => calibrate(cfg, local, parse(b), o)).toThrow(/bench\.json: model: the bench ran grok-1-tiny \(64 layers/);
  });

  it("fitLinear solves the 2×2 system and falls back to one term when the other would be negative; never a negative term", () => {
    expect(fitLinear([[1, 2, 5], [3, 1, 5]])).toEqual([1, 2]);
    const [x, y] = fitLinear([[1, 1, 1], [1, 2, 0.5]]); // exact solution has y < 0
    expect(y).toBe(0);
    expect(x).toBeGreaterThan(0.5);
    expect(x).toBeLessThan(1);
    // exact solution has x < 0 (what the old fit gave for the stages' compute): the y-only fit
    const [x2, y2] = fitLinear([[1, 1, 1], [3, 1, 0.5]]);
    expect(x2).toBe(0);
    expect(y2).toBeGreaterThan(0.5);
    expect(y2).toBeLessThan(1);
    // nothing left to fit (targets ≤ 0): both 0, not negative
    expect(fitLinear([[1, 1, -1], [2, 1, -2]])).toEqual([0, 0]);
  });
});

/** Real `moe bench cluster --json` runs of local.yaml on the development machine (schema moe-bench-cluster/2). */
const REAL = "docs/bench/cluster-local-s7.json";
/** The same on the session's final code, with the bench's 12 warm-up passes (a warm cluster). */
const WARM = "docs/bench/cluster-local-s7-warm.json";

/** Every fitted term ≥ 0, the stages keep their compute, and local.yaml's prediction within ±25 % at concurrency 1 and 16. */
function expectCalibrated(file: string): void {
  const b = loadBenchFile(file);
  const cal = calibrate(cfg, local, b, { dtype: "f32" });
  for (const [k, v] of Object.entries(cal.fitted)) if (typeof v === "number") expect(v, k).toBeGreaterThanOrEqual(0);
  // the stages' own compute: the single step less its in-step MoE, positive, and fitted to a positive scale
  for (const [i, s] of cal.measured.stageSeconds.entries()) {
    expect(s.seconds).toBeGreaterThan(0);
    expect(s.seconds).toBeCloseTo(cal.measured.singleStepSeconds[i]!.seconds - cal.measured.inStepMoeSeconds[i]!.seconds, 12);
  }
  expect(cal.fitted.computeScale).toBeGreaterThan(0);
  expect(cal.check.map((c) => c.concurrency)).toEqual([1, 16]);
  for (const c of cal.check) {
    expect(c.microBatches).toBe(1);
    expect(Math.abs(c.error), `concurrency ${c.concurrency}: predicted ${c.predictedTokensPerSecond}, measured ${c.measuredTokensPerSecond}`).toBeLessThanOrEqual(0.25);
  }
}

describe("calibration on a real bench file", () => {
  it(`${REAL}: every fitted term ≥ 0, the stages keep their compute, and the prediction for local.yaml lands within ±25 % at concurrency 1 and 16`, () => {
    expectCalibrated(REAL);
    // here the in-step MoE is less than the same MoE called on its own (cold): what the old fit subtracted
    const b = loadBenchFile(REAL);
    const inStep1 = b.decode.find((d) => d.backend === "single" && d.concurrency === 1)!.moeMsPerLayer!;
    expect(inStep1).toBeLessThan(b.roundTrip.find((r) => r.rows === 1)!.inProcessMs);
  });

  it(`${WARM} (12 warm-up passes): the same`, () => {
    expectCalibrated(WARM);
    expect(loadBenchFile(WARM).settings.warmupRounds).toBe(12);
  });
});

describe("moe plan --calibrate (real process)", () => {
  const moe = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [...MOE_CLI, "plan", ...args], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })),
    );

  it("prints the calibration and its check, and records it in plan.json", async () => {
    const file = join(dir, "bench.json");
    writeFileSync(file, JSON.stringify(bench({ ...figuresFrom(TRUTH), cluster: [40, 200] })));
    const out = join(dir, "plan.json");
    const r = await moe("--cluster", "configs/clusters/local.yaml", "--calibrate", file, "--out", out);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/calibrated\s+from .*bench\.json/);
    expect(r.stdout).toMatch(/concurrency 1: predicted [\d.]+ tok\/s, measured 40\.0/);
    const plan = JSON.parse(readFileSync(out, "utf8")) as PlanJson;
    expect(plan.assumptions.calibration?.check).toHaveLength(2);
    expect(plan.assumptions.machineCores).toBe(2);
  });

  it(`calibrates with the committed ${REAL} (the README's example)`, async () => {
    const r = await moe("--cluster", "configs/clusters/local.yaml", "--calibrate", REAL);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/concurrency 1: predicted [\d.]+ tok\/s, measured [\d.]+ \(1 micro-batch; [+-]\d+%\)/);
    expect(r.stdout).toMatch(/concurrency 16: predicted [\d.]+ tok\/s, measured [\d.]+ \(1 micro-batch; [+-]\d+%\)/);
  });

  it("names the field of a bad bench file (exit 1)", async () => {
    const file = join(dir, "bad.json");
    const b = bench({ single: [500, 2000], rtt: [1, 2] });
    delete (b.settings as Record<string, unknown>).decodeSteps;
    writeFileSync(file, JSON.stringify(b));
    const r = await moe("--cluster", "configs/clusters/local.yaml", "--calibrate", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.json: settings\.decodeSteps: /);
  });
});
