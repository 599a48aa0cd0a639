/**
 * The run directory of a cluster: `.moe/run/<cluster>/` (gitignored) with
 * `runtime.json`, `plan.json`, `expert-load.json` and `logs/<process>.log`.
 * Writes are atomic (temporary file + rename) so readers never see half a file.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { loadClusterConfig } from "../config/index.js";
import { RuntimeFileError } from "./errors.js";
import { clusterName, type Runtime } from "./runtime.js";

/** File names inside a run directory. */
export const RUN_FILES = Object.freeze({ runtime: "runtime.json", plan: "plan.json", expertLoad: "expert-load.json", logs: "logs" });

/** Default run directory of a cluster: `<cwd>/.moe/run/<name>`. */
export function defaultRunDir(clusterName: string, cwd: string = process.cwd()): string {
  return resolve(cwd, ".moe", "run", clusterName);
}

/** Log file of a process. */
export function logFile(runDir: string, processName: string): string {
  return join(runDir, RUN_FILES.logs, `${processName}.log`);
}

/** Write JSON atomically (pretty-printed, trailing newline). */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
  renameSync(tmp, file);
}

/** Create the run directory (and logs/) and write runtime.json + plan.json. */
export function writeRunDir(runtime: Runtime, plan: unknown): void {
  mkdirSync(join(runtime.runDir, RUN_FILES.logs), { recursive: true });
  writeJsonAtomic(join(runtime.runDir, RUN_FILES.plan), plan);
  writeJsonAtomic(join(runtime.runDir, RUN_FILES.runtime), runtime);
}

const endpoint = z.string().min(1);
const processSchema = z.looseObject({
  name: z.string().min(1),
  host: z.string().min(1),
  role: z.enum(["stage", "expert", "router", "gateway"]),
  endpoint,
  bind: endpoint,
  control: endpoint,
  controlBind: endpoint,
  threads: z.number().int().min(1),
  executionProvider: z.enum(["cpu", "cuda"]),
  local: z.boolean(),
});
const runtimeSchema = z.looseObject({
  version: z.literal(1),
  cluster: z.string(),
  runDir: z.string(),
  model: z.looseObject({ path: z.string(), layers: z.number().int(), experts: z.number().int(), dModel: z.number().int(), vocabSize: z.number().int() }),
  wireDtype: z.enum(["f32", "f16"]),
  stages: z.array(z.string()).min(1),
  expertHosts: z.record(z.string(), endpoint),
  experts: z.array(z.looseObject({ layer: z.number().int(), expert: z.number().int(), hosts: z.array(z.string()).min(1) })),
  processes: z.array(processSchema).min(1),
});

/**
 * Read runtime.json from a file or a run directory.
 * @throws RuntimeFileError naming the file and the fix
 */
export function readRuntime(pathOrDir: string): Runtime {
  const file = existsSync(pathOrDir) && statSync(pathOrDir).isDirectory() ? join(pathOrDir, RUN_FILES.runtime) : pathOrDir;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
    throw new RuntimeFileError(`${file}: ${missing ? "no runtime here" : `cannot read: ${(e as Error).message}`}`, {
      file,
      cause: e,
      fix: missing ? "start the cluster with `moe up CLUSTER.yaml` (or pass --run-dir where it runs)" : "start the cluster again with `moe up`",
    });
  }
  const r = runtimeSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new RuntimeFileError(`${file}: ${i.path.join(".") || "(top level)"}: ${i.message}; not a runtime.json written by \`moe up\``, { file, field: i.path.join(".") });
  }
  return r.data as unknown as Runtime;
}

/**
 * Find the runtime of a running cluster from what the user gave: `--run-dir`,
 * a runtime.json (or run directory), or the cluster YAML (→ `.moe/run/<name>`).
 * @throws RuntimeFileError when none is there
 */
export function locateRuntime(where: { cluster?: string; runDir?: string }): Runtime {
  if (where.runDir !== undefined) return readRuntime(where.runDir);
  const c = where.cluster;
  if (c === undefined) {
    const base = resolve(".moe", "run");
    const dirs = existsSync(base) ? readdirSync(base).filter((d) => existsSync(join(base, d, RUN_FILES.runtime))) : [];
    if (dirs.length === 1) return readRuntime(join(base, dirs[0]!));
    throw new RuntimeFileError(dirs.length ? `several clusters have run here (${dirs.join(", ")}); say which` : `no cluster has run from ${process.cwd()}`, {
      fix: "pass --cluster CLUSTER.yaml (or --run-dir DIR)",
    });
  }
  if (/\.json$/i.test(c) || (existsSync(c) && statSync(c).isDirectory())) return readRuntime(c);
  return readRuntime(defaultRunDir(clusterName(loadClusterConfig(c))));
}
