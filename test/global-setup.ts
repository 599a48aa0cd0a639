/**
 * vitest globalSetup: transpile the sources (the folders tsconfig.json
 * builds) once per run into `.moe/test-build/<hash of the sources>/` and
 * point `$MOE_ENTRY` at its `cli/main.js`, so that every `moe` child process
 * a test starts (cluster processes, `moe up`, `moe plan`, ...) runs the
 * current sources as plain JavaScript instead of loading tsx and
 * transpiling each module again (~1 s of CPU per process). The transpiler is
 * the esbuild that tsx itself uses, with tsx's settings, so the children run
 * the same JavaScript tsx would give them. Unchanged sources reuse the
 * previous build; the test processes themselves still import the .ts files.
 * It also generates the tiny model (`.moe/models/grok-1-tiny`) when missing,
 * once, before the two lanes of vitest.config.ts would both start on it.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureTinyModel } from "../factory/index.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BUILDS = join(ROOT, ".moe", "test-build");
/** Builds of other source versions not used for this long are removed. */
const KEEP_MS = 3600_000;

interface Esbuild {
  build(o: Record<string, unknown>): Promise<unknown>;
}

function sources(): string[] {
  const include = (JSON.parse(readFileSync(join(ROOT, "tsconfig.json"), "utf8")) as { include: string[] }).include;
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(p);
    }
  };
  for (const d of include) if (existsSync(join(ROOT, d))) walk(join(ROOT, d));
  return out.sort();
}

/** Build (or reuse) the transpiled tree; returns its `cli/main.js`. */
async function build(): Promise<string> {
  const files = sources();
  const h = createHash("sha256");
  for (const f of files) h.update(relative(ROOT, f)).update("\0").update(readFileSync(f)).update("\0");
  h.update(readFileSync(join(ROOT, "tsconfig.json"))).update(process.version);
  const out = join(BUILDS, h.digest("hex").slice(0, 16));
  const entry = join(out, "cli", "main.js");
  if (!existsSync(entry)) {
    const esbuild = createRequire(createRequire(import.meta.url).resolve("tsx"))("esbuild") as Esbuild;
    const tmp = `${out}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    await esbuild.build({
      entryPoints: files,
      outdir: tmp,
      outbase: ROOT,
      bundle: false,
      format: "esm",
      platform: "node",
      target: `node${process.versions.node}`,
      keepNames: true,
      tsconfig: join(ROOT, "tsconfig.json"),
      logLevel: "silent",
    });
    try {
      renameSync(tmp, out);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // a concurrent run built the same sources first
    }
  }
  utimesSync(out, new Date(), new Date()); // in use now: not pruned by a run of other sources within KEEP_MS
  for (const d of readdirSync(BUILDS)) {
    const p = join(BUILDS, d);
    if (p !== out && Date.now() - statSync(p).mtimeMs > KEEP_MS) rmSync(p, { recursive: true, force: true });
  }
  return entry;
}

export default async function setup(): Promise<void> {
  mkdirSync(BUILDS, { recursive: true });
  process.env.MOE_ENTRY = await build();
  ensureTinyModel();
}
