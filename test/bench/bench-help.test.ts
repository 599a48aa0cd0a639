/**
 * `npm run bench -- NAME --help` and `moe bench NAME --help`: print that benchmark's arguments
 * (bench/light.ts BENCH_USAGE) and run nothing (before, `--help` went to the benchmark, which ignored it
 * and ran for minutes, and `moe bench NAME --help` printed commander's help of `moe bench`); an unknown
 * name is still refused first. `moe bench --help` is commander's help, listing every benchmark.
 */
import { execFile } from "node:child_process";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BENCH_USAGE, BENCHES, DEFAULT_BENCHES, runBenches } from "../../bench/light.js";
import { BENCH_MAIN, MOE_CLI } from "../moe-cli.js";

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

/**
 * `--import` of a module hook that writes `LOADED <url>` to stderr for every module onnxruntime-node resolves
 * to: whether a command loaded the compute stack.
 */
const TRACE_ORT =
  'data:text/javascript,import{register}from"node:module";register("data:text/javascript,export async function resolve(s,c,n){const r=await n(s,c);if(/onnxruntime-node/.test(r.url))process.stderr.write(\\"LOADED \\"+r.url+\\"\\\\n\\");return r}")';

/** Run node with `args`: exit code, stdout, stderr. */
function run(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 60_000 }, (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }));
  });
}

const usage = (n: (typeof BENCHES)[number]) => `bench ${n} ${BENCH_USAGE[n]}`;

describe("moe bench / npm run bench --help (real processes)", () => {
  it("moe bench NAME --help (and -h, after other arguments) prints only that benchmark's usage, exit 0", async () => {
    for (const args of [["engine", "--help"], ["cluster", "--cluster", "/nonexistent/cluster.yaml", "-h"], ["llama", "--no-install", "--help"]]) {
      const r = await run([...MOE_CLI, "bench", ...args]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe(`${usage(args[0] as (typeof BENCHES)[number])}\n`);
    }
  });

  it("moe bench --help (and -h) is commander's help of the command, listing every benchmark's arguments", async () => {
    for (const flag of ["--help", "-h"]) {
      const r = await run([...MOE_CLI, "bench", flag]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/^Usage: moe bench \[name\] \[args\.\.\.\]/);
      for (const n of BENCHES) expect(r.out).toContain(`  ${n.padEnd(13)}${BENCH_USAGE[n]}`);
    }
  });

  it("moe bench NOSUCH --help is refused (exit 1, the names listed)", async () => {
    const r = await run([...MOE_CLI, "bench", "nosuch", "--help"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/unknown benchmark 'nosuch'; choose one of: engine/);
    expect(r.out).toBe("");
  });

  it("npm run bench -- NAME --help prints the same line; without a name, every benchmark's", async () => {
    const one = await run([...BENCH_MAIN, "engine", "--help"]);
    expect(one.code, one.err).toBe(0);
    expect(one.out).toBe(`${usage("engine")}\n`);
    const all = await run([...BENCH_MAIN, "--help"]);
    expect(all.code, all.err).toBe(0);
    expect(all.out).toBe(BENCHES.map((n) => `${usage(n)}\n`).join(""));
  });

  it("moe --version, moe --help and moe bench [NAME] --help load no onnxruntime-node (cli/bench.ts imported model/ when registered)", async () => {
    // the hook sees it when the command does load it: a --model makes `moe bench` import model/ (for the
    // huge-pages check) before the unknown name fails
    const control = await run(["--import", TRACE_ORT, ...MOE_CLI, "bench", "nosuch", "--model", "/nonexistent"]);
    expect(control.code).toBe(1);
    expect(control.err).toContain("LOADED ");
    for (const args of [["--version"], ["--help"], ["bench", "--help"], ["bench", "engine", "--help"]]) {
      const r = await run(["--import", TRACE_ORT, ...MOE_CLI, ...args]);
      expect(r.code, `${args.join(" ")}: ${r.err}`).toBe(0);
      expect(r.err, args.join(" ")).not.toContain("LOADED ");
    }
  });
});
