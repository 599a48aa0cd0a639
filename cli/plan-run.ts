/**
 * `moe plan`: will the model fit on this cluster, how fast, and where does
 * everything go. Prints a table (or `--json`), writes `plan.json` with
 * `--out`. Exit status: 0 fits, 2 does not fit, 1 error.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, extname, isAbsolute, join, resolve } from "node:path";
import { InvalidArgumentError } from "commander";
import { loadClusterConfig } from "../config/index.js";
import { ENGINE_KV_BYTES_PER_ELEMENT, PRESETS, configFromGguf, findXaiCheckpoint, loadConfigJson, openModel, openWeights, presetConfig, weightDTypeOf, type ModelConfig } from "../model/index.js";
import {
  calibrate,
  ClusterConfigError,
  comparePlans,
  deviceKeys,
  formatCompare,
  formatMinCluster,
  formatPlan,
  loadBenchFile,
  loadExpertLoad,
  lookupDevice,
  makePlan,
  minCluster,
  planOnce,
  resolveCluster,
  type ClusterSpec,
  type PlanOptions,
  type WeightDType,
} from "../planner/index.js";

interface PlanFlags {
  model?: string;
  cluster?: string;
  dtype?: string;
  kvDtype?: string;
  context?: number;
  concurrency?: number;
  prompt?: number;
  expertLoad?: string;
  replicas?: number;
  json?: boolean;
  out?: string;
  compare?: boolean;
  minCluster?: boolean;
  gpu?: string;
  replan?: boolean;
  calibrate?: string;
}

const DTYPES: Readonly<Record<string, WeightDType>> = { int8: "int8", bf16: "bf16", fp16: "f16", f16: "f16", q8_0: "q8_0", f32: "f32", fp32: "f32" };



/**
 * A preset name, a model directory (config.json), a config.json file or a GGUF file (its metadata).
 * `weightDType` is the dtype the weights are stored in, when the model has weight files.
 */
export function resolveModel(arg: string, relativeTo?: string): { cfg: ModelConfig; source: string; weightDType?: WeightDType } {
  if (PRESETS[arg]) return { cfg: presetConfig(arg), source: arg };
  const candidates = isAbsolute(arg) ? [arg] : [resolve(arg), ...(relativeTo ? [resolve(relativeTo, arg)] : [])];
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    if (!/[/\\.]/.test(arg)) presetConfig(arg); // throws, listing the presets
    throw new ClusterConfigError(`model '${arg}' is neither a preset (${Object.keys(PRESETS).join(", ")}) nor an existing directory`, { field: "model" });
  }
  if (statSync(path).isDirectory()) {
    const hasWeights = findXaiCheckpoint(path) !== undefined || readdirSync(path).some((f) => /\.(gguf|safetensors)$/i.test(f));
    if (hasWeights) {
      // the config and dtype the engine will load (headers only)
      const m = openModel(path);
      try {
        return { cfg: m.config, source: path, weightDType: weightDTypeOf(m.weights) };
      } finally {
        m.close();
      }
    }
    const cfgFile = join(path, "config.json");
    if (!existsSync(cfgFile)) throw new ClusterConfigError(`${path}: no config.json in the model directory`, { file: path, fix: "run `moe model init` or pass a preset name" });
    return { cfg: loadConfigJson(cfgFile), source: path };
  }
  if (extname(path).toLowerCase() === ".gguf") {
    // the GGUF's metadata is the config; only the header (of every split) is read
    const reader = openWeights(path);
    try {
      return { cfg: configFromGguf(reader), source: path, weightDType: weightDTypeOf(reader) };
    } finally {
      reader.close();
    }
  }
  return { cfg: loadConfigJson(path), source: path };
}

/** --dtype, else the model file's dtype, else the cluster file's, else int8. */
function dtypeOf(flag: string | undefined, cluster: ClusterSpec | undefined, fileDType?: WeightDType): WeightDType {
  if (flag === undefined) return fileDType ?? cluster?.dtype ?? "int8";
  const d = DTYPES[flag];
  if (!d) throw new InvalidArgumentError(`unknown dtype '${flag}'; choose one of int8, bf16, fp16, q8_0, f32`);
  return d;
}

function kvBytes(flag: string): number {
  const b = { f16: 2, fp16: 2, bf16: 2, f32: 4, fp32: 4 }[flag];
  if (!b) throw new InvalidArgumentError(`unknown KV-cache dtype '${flag}'; choose f16, bf16 or f32`);
  return b;
}

function write(file: string, json: unknown): void {
  writeFileSync(file, JSON.stringify(json, null, 2) + "\n");
}

export async function action(f: PlanFlags): Promise<void> {
  if (f.minCluster) {
    if (!f.gpu) throw new InvalidArgumentError(`--min-cluster needs --gpu DEVICE (one of ${deviceKeys().join(", ")})`);
    if (!lookupDevice(f.gpu)) throw new InvalidArgumentError(`unknown device '${f.gpu}'; known devices: ${deviceKeys().join(", ")}`);
  } else if (!f.cluster) throw new InvalidArgumentError("--cluster FILE is required (or --min-cluster --gpu DEVICE); examples in configs/clusters/");
  const config = f.cluster ? loadClusterConfig(f.cluster) : undefined;
  if (config && config.planning.hosts.length === 0)
    throw new InvalidArgumentError(`${f.cluster} lists no hosts: its hosts join over NATS (${config.runtime.nats}); \`moe up ${f.cluster}\` plans over them once they joined, and \`moe status --nats ${config.runtime.nats}\` shows them`);
  const cluster = config ? resolveCluster(config.planning, config.locate) : undefined;
  const { cfg, source, weightDType } = resolveModel(f.model ?? config?.model ?? "grok-1", f.cluster ? dirname(f.cluster) : undefined);
  // a real model file is served by the engine: its weights as stored, the engine's KV cache (f32 today)
  const kvBytesPerElement = f.kvDtype ? kvBytes(f.kvDtype) : weightDType ? ENGINE_KV_BYTES_PER_ELEMENT : undefined;
  let o: PlanOptions = {
    dtype: dtypeOf(f.dtype, cluster, weightDType),
    ...(f.context !== undefined ? { context: f.context } : {}),
    ...(f.concurrency !== undefined ? { concurrency: f.concurrency } : {}),
    ...(f.prompt !== undefined ? { promptTokens: Math.min(f.prompt, f.context ?? cfg.contextLength) } : {}),
    ...(f.expertLoad ? { expertLoad: loadExpertLoad(f.expertLoad, cfg) } : {}),
    ...(f.replicas !== undefined ? { replicasPerLayer: f.replicas } : {}),
    ...(kvBytesPerElement !== undefined ? { cost: { kvBytesPerElement } } : {}),
    ...(f.replan ? { usePlacement: false } : {}),
    modelSource: source,
  };
  if (f.calibrate) o = calibrated(f.calibrate, cfg, cluster, o);
  if (f.minCluster) {
    const r = minCluster(cfg, f.gpu!, o, (c, k, opts) => planOnce(c, k, opts));
    if (f.out && r.plan) write(f.out, r.plan);
    console.log(f.json ? JSON.stringify({ device: r.device, count: r.count, plan: r.plan }, null, 2) : formatMinCluster(r, cfg.name, o.dtype));
    if (!r.plan) process.exitCode = 2;
    return;
  }
  if (f.compare) {
    const { plan, rows } = comparePlans(cfg, cluster!, o);
    if (f.out) write(f.out, plan);
    console.log(f.json ? JSON.stringify({ plan, compare: rows }, null, 2) : `${formatPlan(plan)}\n\n${formatCompare(rows)}`);
    if (!plan.fits) process.exitCode = 2;
    return;
  }
  const plan = makePlan(cfg, cluster!, o);
  if (f.out) write(f.out, plan);
  console.log(f.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
  if (f.out && !f.json) console.log(`\nwrote ${f.out}${plan.fits ? "" : " (fits: false; `moe up` will refuse it)"}`);
  if (!plan.fits) process.exitCode = 2;
}

/**
 * Plan options with the software terms fitted to a `moe bench cluster --json` file. The fit needs the
 * cluster the bench ran: `--cluster` when it has the bench's cluster name, else the bench's `cluster.file`
 * (relative to the working directory, then to the bench file).
 */
function calibrated(file: string, cfg: ModelConfig, cluster: ClusterSpec | undefined, o: PlanOptions): PlanOptions {
  const bench = loadBenchFile(file);
  let benchCluster = cluster && (cluster.name ?? "") === bench.cluster.name ? cluster : undefined;
  if (!benchCluster) {
    const candidates = [resolve(bench.cluster.file), resolve(dirname(file), bench.cluster.file)];
    const found = candidates.find((p) => existsSync(p));
    if (!found)
      throw new ClusterConfigError(`${file}: cluster.file: the bench ran '${bench.cluster.file}' (cluster '${bench.cluster.name}'), which is not found here`, {
        file,
        field: "cluster.file",
        fix: `pass that cluster file with --cluster, or run moe plan from the directory the bench ran in`,
      });
    const config = loadClusterConfig(found);
    benchCluster = resolveCluster(config.planning, config.locate);
  }
  const cal = calibrate(cfg, benchCluster, bench, o);
  return { ...o, cost: { ...o.cost, ...cal.fitted }, calibration: cal };
}
