/**
 * `npm run bench -- NAME --help`: prints that benchmark's arguments (bench/light.ts BENCH_USAGE) and runs
 * nothing (before, `--help` went to the benchmark, which ignored it and ran for minutes); an unknown name is
 * still refused first.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { BENCH_USAGE, BENCHES, DEFAULT_BENCHES, runBenches } from "../../bench/light.js";

afterEach(() => vi.restoreAllMocks());

function printed(spy: { mock: { calls: unknown[][] } }): string[] {
  return spy.mock.calls.map((c) => c.join(" "));
}

describe("bench --help", () => {
  it("prints the named benchmark's arguments and runs nothing", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    // a run would print its "=== bench cluster ===" header first, then fail on the missing cluster file
    await runBenches(["cluster"], ["--cluster", "/nonexistent/cluster.yaml", "--help"]);
    expect(printed(log)).toEqual([`bench cluster ${BENCH_USAGE.cluster}`]);
  });

  it("with no name, lists the default benchmarks' arguments (-h too)", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    await runBenches([], ["-h"]);
    expect(printed(log)).toEqual(DEFAULT_BENCHES.map((n) => `bench ${n} ${BENCH_USAGE[n as (typeof BENCHES)[number]]}`));
  });

  it("refuses an unknown name before printing anything", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    await expect(runBenches(["clustr"], ["--help"])).rejects.toThrow(/unknown benchmark 'clustr'; choose one of: .*cluster/);
    expect(log).not.toHaveBeenCalled();
  });

  it("documents every benchmark", () => {
    expect(Object.keys(BENCH_USAGE).sort()).toEqual([...BENCHES].sort());
  });
});
