/**
 * Per-host model parts (`moe model slice --plan plan.json --out DIR` writes `DIR/<host>.gguf`):
 * which file a cluster process opens. A process opens its host's part when the runtime has parts,
 * else the whole model; a part made for another host is refused.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { PartReader, PartSetReader, type LoadedModel } from "../model/index.js";
import { RuntimeLayoutError } from "./errors.js";
import type { Runtime, RuntimeProcess } from "./runtime.js";

/** The part file of `host` in a slice directory. */
export function partFile(dir: string, host: string): string {
  return resolve(join(dir, `${host}.gguf`));
}

/**
 * Host → part file for every host of `hosts`, from a slice directory.
 * @param local hosts whose part must exist on this machine (the others' paths are as on their machines)
 * @throws RuntimeLayoutError naming a missing part and the fix
 */
export function hostParts(dir: string, hosts: readonly string[], local: ReadonlySet<string> = new Set(hosts)): Record<string, string> {
  const parts: Record<string, string> = {};
  for (const h of hosts) {
    const f = partFile(dir, h);
    if (local.has(h) && !existsSync(f))
      throw new RuntimeLayoutError(`${f}: no model part for host '${h}'`, { file: f, host: h, fix: `slice the model for this plan: moe model slice --plan plan.json --out ${dir}` });
    parts[h] = f;
  }
  return parts;
}

/** The model file process `p` opens: its host's part when the runtime has parts, else the whole model. */
export function modelPathFor(runtime: Runtime, p: RuntimeProcess): string {
  return hostModelPath(runtime, p.host);
}

/** The model file the processes of `host` open (its part, or the whole model). */
export function hostModelPath(runtime: Runtime, host: string): string {
  return runtime.model.parts?.[host] ?? runtime.model.path;
}

/** Refuse a part sliced for another host than `p`'s. */
export function checkPartHost(m: LoadedModel, p: RuntimeProcess): void {
  if ((m.weights instanceof PartReader || m.weights instanceof PartSetReader) && m.weights.host !== p.host)
    throw new RuntimeLayoutError(`${m.weights.file}: is the part for host '${m.weights.host}', but process '${p.name}' runs on host '${p.host}'`, {
      process: p.name,
      host: p.host,
      fix: `give ${p.host} its own part (${p.host}.gguf from moe model slice)`,
    });
}
