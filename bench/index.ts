/** The benchmarks (`npm run bench -- <name>`, `moe bench <name>`); never part of `npm test`. */

export const BENCHES = ["engine", "kernels", "sampling", "planner", "cluster", "serve", "dynamic"] as const;

/** Run the named benchmarks in order (all when none is named); each prints its own figures. */
export async function runBenches(names: readonly string[], args: string[]): Promise<void> {
  for (const n of names.length ? names : BENCHES) {
    if (!(BENCHES as readonly string[]).includes(n)) throw new Error(`unknown benchmark '${n}'; choose one of: ${BENCHES.join(", ")}`);
    const mod = (await import(`./${n}.js`)) as { run(args: string[]): Promise<void> };
    console.error(`\n=== bench ${n} ===`); // stderr: stdout stays parseable with --json
    await mod.run(args);
  }
}
