/** Argument parsing shared by the benchmarks that read `--name value` pairs themselves. */

/** The value after `name` in `args`, or `fallback` when `name` is absent or last. */
export function arg(args: readonly string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}
