/**
 * `moe up` for a cluster file with `nats:` (dynamic mode): resolve the model
 * and the run directory as static mode does, then run the coordinator
 * (coordinator.ts) — which waits for hosts to join, plans, sends weights,
 * and serves through the gateway in this process.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import { openModel } from "../model/index.js";
import { loadClusterConfig } from "../config/index.js";
import { resolveCluster } from "../planner/index.js";
import { Coordinator, type CoordinatorOptions } from "./coordinator.js";
import { RuntimeLayoutError } from "./errors.js";
import { defaultRunDir, RUN_FILES } from "./files.js";
import { checkNotRunning, curveKeys, resolveModelPath } from "./launcher.js";
import { clusterName } from "./runtime.js";

/** Options of {@link launchDynamic}: the cluster file and where things go; the rest is passed to the coordinator as is. */
export type DynamicLaunchOptions = Pick<CoordinatorOptions, "logger"> &
  Partial<Pick<CoordinatorOptions, "keysDir" | "minHosts" | "heartbeatTimeoutMs" | "stallTimeoutMs" | "gateway" | "gatewayHost" | "gatewayPort" | "timeouts" | "signal" | "onEvent">> & {
    readonly clusterFile: string;
    /** Model directory or file (default: the file's `model:`, else the tiny model). */
    readonly modelPath?: string;
    /** Default `.moe/run/<cluster>`. */
    readonly runDir?: string;
    /** Overrides the file's `warmup_passes:` (the gateway's start-up warm-up; 0 = none). */
    readonly warmupPasses?: number;
  };

/**
 * Start the coordinator of a dynamic cluster; resolves once it serves.
 * @throws RuntimeLayoutError when the file has no `nats:`; what Coordinator.start throws
 */
export async function launchDynamic(o: DynamicLaunchOptions): Promise<Coordinator> {
  const file = loadClusterConfig(o.clusterFile);
  const cluster = resolveCluster(file.planning, file.locate);
  if (!file.runtime.nats) throw new RuntimeLayoutError(`${o.clusterFile}: no 'nats:' URL: not a dynamic cluster`, { file: o.clusterFile, field: "nats", fix: "add `nats: nats://HOST:4222` (or run it in static mode)" });
  const runDir = resolve(o.runDir ?? defaultRunDir(clusterName(file)));
  checkNotRunning(runDir);
  mkdirSync(join(runDir, RUN_FILES.logs), { recursive: true });
  const modelPath = resolveModelPath(o.modelPath, file);
  const m = openModel(modelPath);
  const config = m.config;
  m.close();
  const keysDir = curveKeys(file.runtime, runDir, o.keysDir);
  const { clusterFile: _f, modelPath: _m, runDir: _r, keysDir: _k, warmupPasses, ...passed } = o;
  return Coordinator.start({
    ...passed,
    cluster: { ...cluster, source: resolve(o.clusterFile) },
    settings: { ...file.runtime, source: resolve(o.clusterFile), ...(warmupPasses !== undefined ? { warmupPasses } : {}) },
    modelPath: resolve(modelPath),
    config,
    runDir,
    ...(keysDir ? { keysDir } : {}),
  });
}
