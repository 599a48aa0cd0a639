/**
 * `moe generate` / `moe serve` / `moe bench` / `npm run bench` re-run themselves once with
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=1 when the weights reach the threshold (model/huge-pages.ts), here lowered to 1 byte with MOE_HUGE_PAGES_MIN_BYTES so
 * that the tiny model qualifies. Real processes: the child's environment is read from /proc, signals are
 * sent with kill, exit codes and stdout are what the shell would see.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_TINY_MODEL_DIR } from "../../factory/index.js";
import { benchModelPaths } from "../../bench/light.js";
import { BENCH_MAIN, MOE_CLI } from "../moe-cli.js";

const TINY = DEFAULT_TINY_MODEL_DIR;
const linux = process.platform === "linux";

/** This environment without GLIBC_TUNABLES and the MOE_HUGE_PAGES* variables, plus `extra`. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = { ...process.env };
  for (const k of ["GLIBC_TUNABLES", "MOE_HUGE_PAGES_CHILD", "MOE_HUGE_PAGES", "MOE_HUGE_PAGES_MIN_BYTES"]) delete e[k];
  return { ...e, ...extra };
}

/** Child pids of `pid` (Linux /proc). */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The environment of process `pid` as a map (Linux /proc). */
function environ(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
    const i = kv.indexOf("=");
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return m;
}

interface Serve {
  proc: ChildProcess;
  url: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

const started: ChildProcess[] = [];
afterEach(() => {
  for (const p of started.splice(0))
    if (p.exitCode === null && p.signalCode === null) {
      for (const k of children(p.pid!)) process.kill(k, "SIGKILL");
      p.kill("SIGKILL");
    }
});

/** `moe serve` on the tiny model, resolved once it prints its URL. */
async function serve(args: string[], e: NodeJS.ProcessEnv): Promise<Serve> {
  const proc = spawn(process.execPath, [...MOE_CLI, "serve", "--model", TINY, "--port", "0", "--log-level", "warn", ...args], { env: e, stdio: ["ignore", "pipe", "pipe"] });
  started.push(proc);
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once("exit", (code, signal) => r({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /ready at (http:\/\/\S+)\/v1/.exec(out);
      if (m) {
        clearInterval(t);
        resolve(m[1]!);
      } else if (proc.exitCode !== null || proc.signalCode !== null) {
        clearInterval(t);
        reject(new Error(`moe serve exited early:\n${err.slice(-2000)}`));
      }
    }, 50);
  });
  return { proc, url, exit, stderr: () => err };
}

/**
 * `moe ARGS` (`entry`: `npm run bench`'s bench/main instead): exit code, stdout, stderr and the GLIBC_TUNABLES of
 * its re-run child, watched while it runs (null: no child seen).
 */
async function runWatched(args: string[], e: NodeJS.ProcessEnv, entry: readonly string[] = MOE_CLI): Promise<{ code: number | null; out: string; err: string; childTunables: string | undefined | null }> {
  const p = spawn(process.execPath, [...entry, ...args], { env: e, stdio: ["ignore", "pipe", "pipe"] });
  started.push(p);
  let out = "";
  let err = "";
  p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  let childTunables: string | undefined | null = null;
  const watch = setInterval(() => {
    for (const k of children(p.pid!))
      try {
        childTunables = environ(k).get("GLIBC_TUNABLES");
      } catch {
        // already gone
      }
  }, 10);
  const code = await new Promise<number | null>((r) => p.once("close", (c) => r(c)));
  clearInterval(watch);
  return { code, out, err, childTunables };
}

describe.skipIf(!linux)("moe generate / moe serve re-run themselves with malloc on huge pages", () => {
  it("serve: one child with GLIBC_TUNABLES (no further re-exec) serves; SIGTERM and SIGINT to the parent stop both cleanly", async () => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      const s = await serve([], env({ MOE_HUGE_PAGES_MIN_BYTES: "1" }));
      const kids = children(s.proc.pid!);
      expect(kids).toHaveLength(1);
      const childEnv = environ(kids[0]!);
      expect(childEnv.get("GLIBC_TUNABLES")).toBe("glibc.malloc.hugetlb=1");
      expect(childEnv.get("MOE_HUGE_PAGES_CHILD")).toBe(String(s.proc.pid));
      expect(environ(s.proc.pid!).has("GLIBC_TUNABLES")).toBe(false);
      expect(children(kids[0]!)).toEqual([]); // the child did not re-run itself again
      const health = await fetch(`${s.url}/health`);
      expect(health.status).toBe(200);
      s.proc.kill(sig);
      expect(await s.exit).toEqual({ code: 0, signal: null });
      expect(s.stderr()).toContain(`moe serve: ${sig}: shutting down`);
      expect(existsSync(`/proc/${kids[0]}`)).toBe(false);
    }
  });

  it("the parent ends the way the child ended: killed by the same signal", async () => {
    const s = await serve([], env({ MOE_HUGE_PAGES_MIN_BYTES: "1" }));
    const [kid] = children(s.proc.pid!);
    expect(kid).toBeDefined();
    process.kill(kid!, "SIGKILL");
    expect(await s.exit).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("the child stops when the parent is killed with SIGKILL (nothing could be passed on)", async () => {
    const s = await serve([], env({ MOE_HUGE_PAGES_MIN_BYTES: "1" }));
    const [kid] = children(s.proc.pid!);
    expect(kid).toBeDefined();
    s.proc.kill("SIGKILL");
    await s.exit;
    const t0 = Date.now();
    while (existsSync(`/proc/${kid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${kid}/status`, "utf8")) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(`/proc/${kid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${kid}/status`, "utf8"))).toBe(false);
  });

  it("no re-exec with --no-huge-pages, MOE_HUGE_PAGES=0, GLIBC_TUNABLES already set, or weights under the threshold", async () => {
    const cases: [string[], NodeJS.ProcessEnv, string | undefined][] = [
      [["--no-huge-pages"], env({ MOE_HUGE_PAGES_MIN_BYTES: "1" }), undefined],
      [[], env({ MOE_HUGE_PAGES_MIN_BYTES: "1", MOE_HUGE_PAGES: "0" }), undefined],
      [[], env({ MOE_HUGE_PAGES_MIN_BYTES: "1", GLIBC_TUNABLES: "glibc.malloc.arena_max=4" }), "glibc.malloc.arena_max=4"],
      [[], env(), undefined], // the tiny model is far under the default 1 GiB
    ];
    for (const [args, e, tunables] of cases) {
      const s = await serve(args, e);
      const kids = children(s.proc.pid!);
      expect(kids, `${JSON.stringify(args)}: ${kids.map((k) => readFileSync(`/proc/${k}/cmdline`, "utf8").replace(/\0/g, " ")).join("; ")}`).toEqual([]);
      expect(environ(s.proc.pid!).get("GLIBC_TUNABLES")).toBe(tunables);
      s.proc.kill("SIGTERM");
      expect(await s.exit, `${JSON.stringify(args)} ${tunables}: ${s.stderr().slice(-1000)}`).toEqual({ code: 0, signal: null });
    }
  });

  it("generate: the re-run child's stdout is the command's (same greedy ids as without it); its exit code passes through", async () => {
    const gen = (args: string[], e: NodeJS.ProcessEnv) => runWatched(["generate", "--model", TINY, ...args], e);
    const args = ["--prompt-ids", "1,422,1033", "--max-tokens", "4", "--json"];
    const re = await gen(args, env({ MOE_HUGE_PAGES_MIN_BYTES: "1" }));
    const plain = await gen(args, env());
    expect(re.code, re.err).toBe(0);
    expect(plain.code, plain.err).toBe(0);
    expect(re.childTunables).toBe("glibc.malloc.hugetlb=1");
    expect(plain.childTunables).toBeNull();
    expect(JSON.parse(re.out)).toEqual(JSON.parse(plain.out));
    // a bad token id: the child's error and exit status 1, printed once
    const bad = await gen(["--prompt-ids", "1,99999999", "--max-tokens", "1"], env({ MOE_HUGE_PAGES_MIN_BYTES: "1" }));
    expect(bad.code).toBe(1);
    expect(bad.childTunables).toBe("glibc.malloc.hugetlb=1");
    expect(bad.err.match(/moe: error:/g)).toHaveLength(1);
  });
});

describe.skipIf(!linux)("moe bench and npm run bench re-run themselves on huge pages for a --model of 1 GiB or more", () => {
  // `moe bench` (an unknown name: exit 1) and `npm run bench` (bench/main: exit 2), the same command line after them
  const entries = [
    { name: "moe bench", run: (args: string[], e: NodeJS.ProcessEnv) => runWatched(["bench", ...args], e), unknownExit: 1 },
    { name: "npm run bench", run: (args: string[], e: NodeJS.ProcessEnv) => runWatched(args, e, BENCH_MAIN), unknownExit: 2 },
  ];

  it("--model PATH and --model=PATH re-run it (the child's exit status passes through); MOE_HUGE_PAGES=0, a small model or --help do not", async () => {
    for (const { name, run, unknownExit } of entries) {
      // an unknown benchmark name fails in the child, after the re-run: a quick, real run of the path
      for (const args of [["nosuch", "--model", TINY], ["nosuch", `--model=${TINY}`]]) {
        const r = await run(args, env({ MOE_HUGE_PAGES_MIN_BYTES: "1" }));
        expect(r.code, `${name}: ${r.err}`).toBe(unknownExit);
        expect(r.childTunables, name).toBe("glibc.malloc.hugetlb=1");
        expect(r.err.match(/unknown benchmark 'nosuch'/g), name).toHaveLength(1);
      }
      for (const e of [env({ MOE_HUGE_PAGES_MIN_BYTES: "1", MOE_HUGE_PAGES: "0" }), env()]) {
        const r = await run(["nosuch", "--model", TINY], e);
        expect(r.code, `${name}: ${r.err}`).toBe(unknownExit);
        expect(r.childTunables, name).toBeNull();
      }
      // --help prints the usage here, before any re-run
      const help = await run(["engine", "--model", TINY, "--help"], env({ MOE_HUGE_PAGES_MIN_BYTES: "1" }));
      expect(help.code, `${name}: ${help.err}`).toBe(0);
      expect(help.childTunables, name).toBeNull();
      expect(help.out, name).toMatch(/^bench engine \[--model PATH\]/);
    }
  });

  it("benchModelPaths: every --model value, in both spellings", () => {
    expect(benchModelPaths(["--threads", "1", "--model", "a.gguf", "--model=b", "--json"])).toEqual(["a.gguf", "b"]);
    expect(benchModelPaths(["--threads", "1", "--model"])).toEqual([]);
  });
});

