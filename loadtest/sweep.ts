/**
 * Sweeps: the same prompts at several loads (`--rate 1,2,4,8` or `--concurrency 1,4,16`), each
 * point warmed up and measured on its own (its own `/metrics` deltas), gathered into one
 * {@link SweepReport}. A stop (signal) ends the current point and skips the rest; the report
 * covers what ran.
 */
import { check, compileLoad, type LoadSpec, type LoadTestOptions, type LoadTestProgress } from "./options.js";
import type { LoadTestReport } from "./report-json.js";
import { buildSweepReport, type SweepReport } from "./report-sweep.js";
import { prepare, runPoint } from "./run.js";

export { parseLoadList } from "./load-list.js";

/** Options of {@link runSweep}: those of a single run, with lists of loads instead of one. */
export interface SweepOptions extends Omit<LoadTestOptions, "rate" | "concurrency" | "onProgress"> {
  /** Open-loop rates, requests/s (`Infinity`: all at once). Exactly one of `rates` / `concurrencies`. */
  readonly rates?: readonly number[];
  /** Closed-loop worker counts. */
  readonly concurrencies?: readonly number[];
  /** Untimed requests before every point (default 1). */
  readonly warmup?: number;
  /** Called after every request ends, with the point's index (in the order given). */
  readonly onProgress?: (point: number, p: LoadTestProgress) => void;
  /** Called when a point starts. */
  readonly onPoint?: (point: number, load: LoadSpec) => void;
}


/** The load of every point, validated. @throws LoadTestOptionError naming the flag. */
export function compileSweep(o: SweepOptions): LoadSpec[] {
  const { rates, concurrencies } = o;
  check((rates === undefined) !== (concurrencies === undefined), rates ? "--rate" : "--concurrency", rates ? "and --concurrency exclude each other: sweep one of them" : "or --rate: give the loads to sweep");
  const list = (rates ?? concurrencies)!;
  check(list.length >= 1, rates ? "--rate" : "--concurrency", "needs at least one value");
  return list.map((v) => compileLoad({ ...o, ...(rates ? { rate: v } : { concurrency: v }) }));
}

/** Run every point in the order given and return the sweep report (points sorted by load). */
export async function runSweep(o: SweepOptions): Promise<SweepReport> {
  const loads = compileSweep(o);
  const variable = o.rates ? "rate" : "concurrency";
  const first = loads[0]!;
  const base: LoadTestOptions = { ...o, onProgress: undefined, ...(first.mode === "open" ? { rate: first.rate } : { concurrency: first.concurrency }) };
  const startedAt = new Date();
  const p = await prepare(base, o.warmup ?? 1);
  const reports: LoadTestReport[] = [];
  for (const [i, load] of loads.entries()) {
    if (o.signal?.aborted) break;
    o.onPoint?.(i, load);
    reports.push(await runPoint({ ...base, onProgress: o.onProgress ? (pp) => o.onProgress!(i, pp) : undefined }, p, load));
  }
  return buildSweepReport(variable, reports, startedAt);
}
