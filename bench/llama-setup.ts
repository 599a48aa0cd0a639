/**
 * Where `moe bench llama` finds llama.cpp: node-llama-cpp (pinned, {@link LLAMA_CPP_VERSION}) in its own
 * package `bench/llama-cpp/` (never in the project's install: ~730 MB with its GPU variants), installed there
 * on first use, or an existing install named by `$MOE_LLAMA_CPP_DIR`.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MoeError } from "../common/index.js";

/** The npm package that runs llama.cpp from Node. */
export const LLAMA_CPP_PACKAGE = "node-llama-cpp";
/** Its pinned version (bench/llama-cpp/package.json): newer releases break `npm ci` here. */
export const LLAMA_CPP_VERSION = "3.21.1";
/** The environment variable naming an existing install: a folder holding `node_modules/node-llama-cpp` (or that package's own folder). */
export const LLAMA_CPP_DIR_ENV = "MOE_LLAMA_CPP_DIR";

/** A usable node-llama-cpp. */
export interface LlamaCppInstall {
  /** The package's own folder (…/node_modules/node-llama-cpp). */
  readonly packageDir: string;
  /** Its ES module entry (absolute path), for `import()`. */
  readonly entry: string;
  /** Its package.json version. */
  readonly version: string;
  /** Where it came from: `$MOE_LLAMA_CPP_DIR` or bench/llama-cpp. */
  readonly source: "env" | "bench";
}

/** A missing or broken llama.cpp install; the message says how to get one. */
export class LlamaCppSetupError extends MoeError {
  declare readonly code: "NOT_INSTALLED" | "BAD_DIR" | "INSTALL_FAILED";
  constructor(message: string, code: "NOT_INSTALLED" | "BAD_DIR" | "INSTALL_FAILED", options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** bench/llama-cpp of this checkout (from sources or from dist/bench). */
export function defaultBenchPackageDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, "package.json")) && dirname(d) !== d) d = dirname(d);
  return join(d, "bench", "llama-cpp");
}

/** The package in `dir` (its own folder or a folder holding node_modules/node-llama-cpp); undefined when neither. */
function packageIn(dir: string, source: LlamaCppInstall["source"]): LlamaCppInstall | undefined {
  for (const packageDir of [join(dir, "node_modules", LLAMA_CPP_PACKAGE), dir]) {
    const file = join(packageDir, "package.json");
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string; main?: string; exports?: Record<string, unknown> };
    if (pkg.name !== LLAMA_CPP_PACKAGE) continue;
    const dot = pkg.exports?.["."];
    const rel = typeof dot === "string" ? dot : ((dot as { import?: string; default?: string } | undefined)?.import ?? (dot as { default?: string } | undefined)?.default ?? pkg.main ?? "index.js");
    const entry = resolve(packageDir, rel);
    if (!existsSync(entry)) continue;
    return { packageDir, entry, version: pkg.version ?? "unknown", source };
  }
  return undefined;
}

/**
 * The install to use: `$MOE_LLAMA_CPP_DIR` when set (an error when it holds no node-llama-cpp), else
 * `benchDir`'s node_modules; undefined when `benchDir` has none yet.
 */
export function findLlamaCpp(benchDir: string, env: NodeJS.ProcessEnv = process.env): LlamaCppInstall | undefined {
  const fromEnv = env[LLAMA_CPP_DIR_ENV];
  if (fromEnv) {
    const found = packageIn(resolve(fromEnv), "env");
    if (!found)
      throw new LlamaCppSetupError(
        `${LLAMA_CPP_DIR_ENV}=${fromEnv}: no ${LLAMA_CPP_PACKAGE} there (looked for ${join(resolve(fromEnv), "node_modules", LLAMA_CPP_PACKAGE, "package.json")} and ${join(resolve(fromEnv), "package.json")}); ` +
          `point it at a folder where \`npm install ${LLAMA_CPP_PACKAGE}@${LLAMA_CPP_VERSION}\` ran, or unset it to install into ${benchDir}`,
        "BAD_DIR",
      );
    return found;
  }
  return packageIn(benchDir, "bench");
}

/** The command that installs the pinned package into `benchDir` (its package.json and lockfile). */
export function installCommand(benchDir: string): { command: string; args: string[] } {
  return { command: process.platform === "win32" ? "npm.cmd" : "npm", args: ["install", "--prefix", benchDir, "--no-audit", "--no-fund"] };
}

/** What the bench says before it installs (and, with --no-install, instead). */
export function installNotice(benchDir: string): string {
  const { command, args } = installCommand(benchDir);
  return (
    `llama.cpp for \`moe bench llama\`: ${LLAMA_CPP_PACKAGE}@${LLAMA_CPP_VERSION} is not installed in ${benchDir}.\n` +
    `  Installing it: \`${[command, ...args].join(" ")}\` downloads ~730 MB once (llama.cpp's prebuilt binaries, GPU variants included); it stays out of the project's own node_modules.\n` +
    `  To skip the download: stop now (Ctrl-C) and set ${LLAMA_CPP_DIR_ENV}=<folder holding node_modules/${LLAMA_CPP_PACKAGE}> to use an existing install, ` +
    `or pass --no-install to fail here instead of installing.`
  );
}

/** Run `command args`, all its output on stderr (stdout stays the report's, JSON with --json); rejects on a non-zero exit. */
async function runInstall(command: string, args: readonly string[]): Promise<void> {
  await new Promise<void>((ok, fail) => {
    const p = spawn(command, [...args], { stdio: ["ignore", 2, 2] });
    p.once("error", fail);
    p.once("exit", (code, signal) => (code === 0 ? ok() : fail(new Error(`\`${[command, ...args].join(" ")}\` exited with ${signal ?? `code ${code}`}`))));
  });
}

/** How {@link ensureLlamaCpp} runs. */
export interface EnsureOptions {
  /** bench/llama-cpp (default: this checkout's). */
  readonly benchDir?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Install when missing (default true); false: throw the notice instead. */
  readonly install?: boolean;
  /** The install command (default {@link installCommand}). */
  readonly command?: { command: string; args: string[] };
  /** Where the notice and warnings go (default stderr). */
  readonly log?: (line: string) => void;
}

/**
 * A usable node-llama-cpp: found ({@link findLlamaCpp}), or installed into bench/llama-cpp after saying so
 * ({@link installNotice}). Warns when the version is not the pinned one.
 */
export async function ensureLlamaCpp(o: EnsureOptions = {}): Promise<LlamaCppInstall> {
  const benchDir = o.benchDir ?? defaultBenchPackageDir();
  const env = o.env ?? process.env;
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  let found = findLlamaCpp(benchDir, env);
  if (!found) {
    if (o.install === false) throw new LlamaCppSetupError(`${installNotice(benchDir)}\n  (--no-install: not installing)`, "NOT_INSTALLED");
    log(installNotice(benchDir));
    const { command, args } = o.command ?? installCommand(benchDir);
    try {
      await runInstall(command, args);
    } catch (e) {
      throw new LlamaCppSetupError(`installing ${LLAMA_CPP_PACKAGE}@${LLAMA_CPP_VERSION} into ${benchDir} failed: ${e instanceof Error ? e.message : e}; run it by hand to see why, or set ${LLAMA_CPP_DIR_ENV}`, "INSTALL_FAILED", { cause: e });
    }
    found = findLlamaCpp(benchDir, env);
    if (!found) throw new LlamaCppSetupError(`\`${[command, ...args].join(" ")}\` succeeded but ${join(benchDir, "node_modules", LLAMA_CPP_PACKAGE)} is still missing`, "INSTALL_FAILED");
  }
  if (found.version !== LLAMA_CPP_VERSION) log(`warning: ${found.packageDir} is ${LLAMA_CPP_PACKAGE}@${found.version}, not the pinned ${LLAMA_CPP_VERSION}: figures may not compare with the README's`);
  return found;
}
