/**
 * zod issues of a cluster file → one {@link ConfigError} that names the file,
 * the line, the field and, for an unknown field, the closest allowed one.
 */
import type { z } from "zod";
import { ConfigError, fieldPath } from "./errors.js";
import { clusterFileSchema, hostSchema, networkSchema, placementSchema, timeoutsSchema } from "./schema.js";

/** Maps a field path (and, for an unknown key, the key) to a 1-based line. */
export type Locate = (path: readonly PropertyKey[], key?: string) => number | undefined;

/** Turn a zod result's first issues into one actionable message. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], locate: Locate, source: string): ConfigError {
  const parts: string[] = [];
  let first: { field: string; line?: number } | undefined;
  for (const issue of issues.slice(0, 3)) {
    let path = [...issue.path];
    let msg = issue.message;
    let key: string | undefined;
    if (issue.code === "unrecognized_keys") {
      key = issue.keys[0]!;
      const allowed = allowedKeys(path);
      const near = allowed.length ? closest(key, allowed) : undefined;
      msg = `unknown field '${key}'${near ? ` (did you mean '${near}'?)` : ""}${allowed.length ? `; allowed here: ${allowed.join(", ")}` : ""}`;
      path = [...path, key];
    }
    const field = fieldPath(path);
    const line = locate(issue.path, key);
    first ??= { field, line };
    parts.push(`${source}${line ? `:${line}` : ""}: ${field || "(top level)"}: ${msg}`);
  }
  return new ConfigError(parts.join("\n"), { file: source, field: first?.field, line: first?.line });
}

function allowedKeys(path: readonly PropertyKey[]): string[] {
  const strs = path.filter((p) => typeof p === "string") as string[];
  const shapeOf = (s: z.ZodType): Record<string, unknown> | undefined => {
    const def = (s as unknown as { def?: { shape?: Record<string, unknown>; in?: z.ZodType; schema?: z.ZodType; innerType?: z.ZodType } }).def;
    if (def?.shape) return def.shape;
    const inner = def?.in ?? def?.schema ?? def?.innerType;
    return inner ? shapeOf(inner) : undefined;
  };
  const last = strs[strs.length - 1];
  const table: Record<string, z.ZodType> = { hosts: hostSchema, network: networkSchema, placement: placementSchema, timeouts: timeoutsSchema };
  const schema = last === undefined ? clusterFileSchema : table[last];
  const shape = schema ? shapeOf(schema) : undefined;
  return shape ? Object.keys(shape) : [];
}

function closest(word: string, options: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const d = editDistance(word.toLowerCase(), o.toLowerCase());
    if (d < bestD) (bestD = d), (best = o);
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
