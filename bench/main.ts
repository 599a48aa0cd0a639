/**
 * `npm run bench -- <name> [args]`: runs bench/<name>.ts, whose `run(args)`
 * prints its figures. Benchmarks are never part of `npm test`.
 */
const BENCHES = ["engine", "planner", "cluster", "serve"] as const;

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const names = name ? [name] : [...BENCHES];
  for (const n of names) {
    if (!(BENCHES as readonly string[]).includes(n)) {
      console.error(`unknown benchmark '${n}'; choose one of: ${BENCHES.join(", ")}`);
      process.exit(2);
    }
    const mod = (await import(`./${n}.js`)) as { run(args: string[]): Promise<void> };
    console.log(`\n=== bench ${n} ===`);
    await mod.run(args);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
