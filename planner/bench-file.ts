/**
 * The bench file that `moe plan --calibrate FILE` reads: the JSON of
 * `moe bench cluster --json` (schema `moe-bench-cluster/2`). Only the fields
 * the calibration uses are checked (others are allowed); every error names
 * the file and the field path, e.g. `decode[2].tokensPerSecond`.
 *
 * Version 2 added `decode[i].moeMsPerLayer` on the single-process rows (the
 * engine's MoE inside its own decode steps), from which the calibration takes
 * the stages' own compute. A version-1 file lacks it and is refused with an
 * error that names the field and says to rerun the bench.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { CalibrationError, fieldPath } from "./errors.js";

/** The schema id the calibration understands. */
export const BENCH_SCHEMA = "moe-bench-cluster/2";

/** The schema before `decode[i].moeMsPerLayer`: recognised only to say what is missing. */
const OLD_SCHEMA = "moe-bench-cluster/1";

const int = z.number().int().min(1);
const positive = z.number().finite().positive();

const benchSchema = z.looseObject({
  schema: z.literal(BENCH_SCHEMA),
  createdAt: z.string(),
  machine: z.looseObject({ cpus: int, loadAverage: z.array(z.number().finite().min(0)).min(1) }),
  model: z.looseObject({ name: z.string(), dModel: int, layers: int, experts: int, expertsPerToken: int }),
  cluster: z.looseObject({ file: z.string().min(1), name: z.string().min(1), stages: int, processes: int }),
  settings: z.looseObject({ promptTokens: int, warmupSteps: z.number().int().min(0), decodeSteps: int }),
  decode: z
    .array(z.looseObject({ concurrency: int, backend: z.enum(["single", "cluster"]), microBatches: int, tokensPerSecond: positive, moeMsPerLayer: positive.optional() }))
    .min(1)
    .superRefine((rows, ctx) =>
      rows.forEach((d, i) => {
        if (d.backend === "single" && d.moeMsPerLayer === undefined) ctx.addIssue({ code: "custom", path: [i, "moeMsPerLayer"], message: "missing: the single process's MoE per layer inside its decode steps, ms" });
      }),
    ),
  roundTrip: z.array(z.looseObject({ rows: int, messages: positive, hosts: positive, clusterMs: positive, clusterMeanMs: positive, rawMs: positive, inProcessMs: positive })).min(1),
  pipeline: z.looseObject({ roundTripMs: positive, meanMs: positive, messages: int, sequential: int.optional() }),
});

/** The figures of a bench file that the calibration uses. */
export type BenchFile = z.output<typeof benchSchema> & { readonly source: string };

/**
 * Validate a parsed bench JSON. Besides the schema: single-process decode at
 * two or more concurrencies, cluster decode with one micro-batch at the
 * lowest of them, and round trips for two or more row counts.
 */
export function parseBenchFile(raw: unknown, source = "<bench>"): BenchFile {
  const old = (raw as { schema?: unknown } | null)?.schema === OLD_SCHEMA;
  if (old) {
    const i = Math.max(0, ((raw as { decode?: { backend?: unknown }[] }).decode ?? []).findIndex((d) => d?.backend === "single"));
    const field = `decode[${i}].moeMsPerLayer`;
    throw new CalibrationError(
      `${source}: schema ${OLD_SCHEMA} has no ${field} (the single process's MoE per layer inside its own decode steps, which the calibration subtracts to get the stages' compute)`,
      { file: source, field, fix: `rerun \`moe bench cluster --json\` with this version (it writes ${BENCH_SCHEMA})` },
    );
  }
  const r = benchSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = fieldPath(issue.path);
    throw new CalibrationError(`${source}: ${field || "(top level)"}: ${issue.message}`, { file: source, field, fix: `pass the JSON that \`moe bench cluster --json\` prints (schema ${BENCH_SCHEMA}); rerun it if the file is old` });
  }
  const b = r.data;
  const need = (ok: boolean, field: string, what: string) => {
    if (!ok) throw new CalibrationError(`${source}: ${field}: ${what}`, { file: source, field, fix: "rerun `moe bench cluster --json` (it measures all of them)" });
  };
  const single = new Set(b.decode.filter((d) => d.backend === "single").map((d) => d.concurrency));
  need(single.size >= 2, "decode", "needs single-process rows at two concurrencies or more (e.g. 1 and 16)");
  const lowest = Math.min(...single);
  need(b.decode.some((d) => d.backend === "cluster" && d.concurrency === lowest && d.microBatches === 1), "decode", `needs a cluster row at concurrency ${lowest} with 1 micro-batch`);
  need(new Set(b.roundTrip.map((x) => x.rows)).size >= 2, "roundTrip", "needs round trips for two row counts or more (e.g. 1 and 16)");
  return { ...b, source };
}

/** Read and validate a bench file. */
export function loadBenchFile(file: string): BenchFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new CalibrationError(`${file}: cannot read the bench JSON: ${(e as Error).message}`, { file, cause: e, fix: "write it with `moe bench cluster --json > FILE` (or --out FILE)" });
  }
  return parseBenchFile(raw, file);
}
