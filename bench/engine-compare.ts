/** `moe bench engine --compare DIR`: load the Engine class of another build of this project, sharing this one's onnxruntime-node. */
import { existsSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import type { Engine } from "../model/index.js";
import { benchUsage } from "./light.js";

/**
 * The Engine class of another build of this project: DIR is its dist/ folder (or the checkout holding it).
 * @throws Error naming the fix when there is no build there, or when it would load another copy of
 *   onnxruntime-node (a second instance of its native binding aborts the process in `initOrt`)
 */
export async function loadCompareBuild(dir: string): Promise<typeof Engine> {
  const dist = existsSync(join(dir, "model", "index.js")) ? dir : join(dir, "dist");
  const file = join(resolve(dist), "model", "index.js");
  if (!existsSync(file)) throw new Error(`--compare ${dir}: no ${file}; give the dist/ folder of a built checkout (npx tsc -p tsconfig.json there)\n${benchUsage("engine")}`);
  const ours = ortPackage(import.meta.url)!; // resolved from this build's folder, as model/ resolves it
  const theirs = ortPackage(pathToFileURL(file).href);
  if (theirs !== ours) {
    const fix = `ln -sfn ${dirname(ours)} ${join(dirname(resolve(dist)), "node_modules")}`;
    throw new Error(`--compare ${dir}: that build loads onnxruntime-node from ${theirs ?? "nowhere"}, this one from ${ours}; both builds must share this one (fix: ${fix})\n${benchUsage("engine")}`);
  }
  const mod = (await import(pathToFileURL(file).href)) as { Engine?: typeof Engine };
  if (typeof mod.Engine?.create !== "function") throw new Error(`--compare ${dir}: ${file} exports no Engine`);
  return mod.Engine;
}

/** The real path of the onnxruntime-node package a module at `url` imports (undefined: none found). */
function ortPackage(url: string): string | undefined {
  try {
    const entry = realpathSync(createRequire(url).resolve("onnxruntime-node"));
    return entry.slice(0, entry.lastIndexOf(`${sep}onnxruntime-node${sep}`) + `${sep}onnxruntime-node`.length);
  } catch {
    return undefined;
  }
}
