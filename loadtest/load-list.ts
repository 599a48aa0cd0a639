/** `--rate` / `--concurrency` lists (light: for the `moe loadtest` option parsers at start-up). */
import { parseRate } from "./arrivals.js";
import { LoadTestOptionError } from "./errors.js";

/** Parse a comma-separated list of rates (`1,2,4,inf`) or integers ≥ 1 (`1,4,16`) for `field`. */
export function parseLoadList(spec: string, field: "--rate" | "--concurrency"): number[] {
  const parts = spec.split(",").map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === "")) throw new LoadTestOptionError(`${field} must be a value or a comma-separated list, got '${spec}'`, { field, fix: `e.g. ${field} ${field === "--rate" ? "1,2,4,8" : "1,4,16"}` });
  const values = parts.map((p) => {
    if (field === "--rate") return parseRate(p, field);
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1) throw new LoadTestOptionError(`${field} values must be integers >= 1, got '${p}'`, { field });
    return n;
  });
  if (new Set(values).size !== values.length) throw new LoadTestOptionError(`${field} lists a value twice: '${spec}'`, { field });
  return values;
}
