/** Option parsers for commander that fail with the flag's name and the fix. */
import { InvalidArgumentError } from "commander";

/** Integer ≥ min. */
export function parseIntOption(flag: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

/** Finite number ≥ min. */
export function parseFloatOption(flag: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${flag} must be a number >= ${min}, got '${v}'`);
    return n;
  };
}

/** "1,422,3033" → [1, 422, 3033]. */
export function parseIds(v: string): number[] {
  const ids = v.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (ids.length === 0 || ids.some((n) => !Number.isInteger(n) || n < 0))
    throw new InvalidArgumentError(`--prompt-ids must be comma-separated non-negative integers, got '${v}'`);
  return ids;
}
