/**
 * Expert load statistics: the router's per-expert token counts, read from
 * `--expert-load FILE` and turned into routing shares for the planner.
 *
 * Accepted JSON forms (counts are tokens routed, any non-negative numbers):
 * - `[[c00, c01, ...], [c10, ...], ...]`                 one row per layer;
 * - `{ "counts": [[...], ...], ... }`                     same, with metadata;
 * - `{ "experts": [{ "layer": 0, "expert": 3, "tokens": 1234 }, ...] }`  sparse (missing = 0).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { ModelConfig } from "../model/index.js";
import { ExpertLoadError, fieldPath } from "./errors.js";

const count = z.number().finite().min(0);
const matrix = z.array(z.array(count));
const loadSchema = z.union([
  matrix,
  z.looseObject({ counts: matrix }),
  z.looseObject({ experts: z.array(z.looseObject({ layer: z.number().int().min(0), expert: z.number().int().min(0), tokens: count })) }),
]);

/** Validate a load object against the model's shape; returns counts `[layer][expert]`. */
export function parseExpertLoad(raw: unknown, cfg: ModelConfig, source = "<expert-load>"): number[][] {
  const r = loadSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ExpertLoadError(`${source}: ${fieldPath(issue.path) || "(top level)"}: ${issue.message}; expected [[tokens per expert] per layer], {"counts": ...} or {"experts": [{layer, expert, tokens}]}`, {
      file: source,
      field: fieldPath(issue.path),
    });
  }
  const d = r.data;
  let counts: number[][];
  if (Array.isArray(d)) counts = d;
  else if ("counts" in d) counts = d.counts as number[][];
  else {
    counts = Array.from({ length: cfg.nLayers }, () => new Array<number>(cfg.nExperts).fill(0));
    for (const [i, x] of (d.experts as { layer: number; expert: number; tokens: number }[]).entries()) {
      if (x.layer >= cfg.nLayers || x.expert >= cfg.nExperts)
        throw new ExpertLoadError(`${source}: experts[${i}]: (layer ${x.layer}, expert ${x.expert}) is outside the model (${cfg.nLayers} layers × ${cfg.nExperts} experts)`, { file: source, field: `experts[${i}]`, layer: x.layer, expert: x.expert });
      counts[x.layer]![x.expert]! += x.tokens;
    }
  }
  if (counts.length !== cfg.nLayers)
    throw new ExpertLoadError(`${source}: has ${counts.length} layers of counts but ${cfg.name} has ${cfg.nLayers}`, { file: source, fix: "record the load with the same model" });
  counts.forEach((row, l) => {
    if (row.length !== cfg.nExperts) throw new ExpertLoadError(`${source}: layer ${l} has ${row.length} experts but ${cfg.name} has ${cfg.nExperts}`, { file: source, layer: l, field: `[${l}]` });
  });
  return counts;
}

/** Read and validate an `--expert-load` JSON file. */
export function loadExpertLoad(file: string, cfg: ModelConfig): number[][] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ExpertLoadError(`${file}: cannot read the expert-load JSON: ${(e as Error).message}`, { file, cause: e });
  }
  return parseExpertLoad(raw, cfg, file);
}

/**
 * Routing shares `[layer][expert]` (fraction of a layer's tokens that go to
 * each expert; each layer sums to top-k). Without counts, or for a layer
 * with no tokens, routing is taken as uniform (top-k ÷ experts).
 */
export function routingShares(cfg: ModelConfig, counts?: readonly (readonly number[])[]): number[][] {
  const k = cfg.nExpertsUsed;
  const E = cfg.nExperts;
  return Array.from({ length: cfg.nLayers }, (_, l) => {
    const row = counts?.[l];
    const sum = row?.reduce((a, c) => a + c, 0) ?? 0;
    if (!row || sum <= 0) return new Array<number>(E).fill(k / E);
    // A share above 1 would mean some token picked the same expert twice: clamp and renormalise.
    let s = row.map((c) => (k * c) / sum);
    for (let it = 0; it < E && s.some((x) => x > 1 + 1e-12); it++) {
      const over = s.filter((x) => x >= 1).length;
      const restSum = s.reduce((a, x) => a + (x >= 1 ? 0 : x), 0);
      s = s.map((x) => (x >= 1 ? 1 : restSum > 0 ? (x * (k - over)) / restSum : 0));
    }
    return s;
  });
}
