/** Formatting of sizes, times and rates for the planner's reports. */

/** "85.5 GB" (decimal units; the planner reports bytes in GB like vendors do). */
export function formatBytes(bytes: number): string {
  const a = Math.abs(bytes);
  if (a >= 1e12) return `${(bytes / 1e12).toFixed(2)} TB`;
  if (a >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (a >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (a >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${Math.round(bytes)} B`;
}

/** "21.3 ms", "850 µs", "1.25 s". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "∞";
  const a = Math.abs(s);
  if (a >= 1) return `${s.toFixed(2)} s`;
  if (a >= 1e-3) return `${(s * 1e3).toFixed(a >= 0.1 ? 0 : 1)} ms`;
  return `${(s * 1e6).toFixed(0)} µs`;
}

/** "3.35 TB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}
