/**
 * The parts of `moe bench llama` that need no llama.cpp install (the race itself is a benchmark): its
 * arguments, the figures and the report, where it finds node-llama-cpp and how it installs it (a real
 * child process stands in for npm's 730 MB download), the pinned package under bench/llama-cpp, the
 * GGUF file it hands to llama.cpp, and the child process's answer to a module that cannot load.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  BENCHES,
  benchRow,
  compareTokens,
  DEFAULT_BENCHES,
  ensureLlamaCpp,
  findLlamaCpp,
  formatLlamaBench,
  ggufOf,
  installCommand,
  LLAMA_BENCH_SCHEMA,
  LLAMA_CPP_DIR_ENV,
  LLAMA_CPP_VERSION,
  LlamaCppSetupError,
  openLlamaPeer,
  parseLlamaArgs,
  prefillScaling,
  sideFigures,
  type LlamaBenchJson,
} from "../../bench/index.js";
import { findModelFiles, ModelConfigError, openModel } from "../../model/index.js";

const tmp = mkdtempSync(join(tmpdir(), "moe-bench-llama-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const d = join(tmp, `d${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** A node-llama-cpp package folder (package.json + its entry) at `dir`. */
function writePackage(dir: string, version = LLAMA_CPP_VERSION): void {
  mkdirSync(join(dir, "dist"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "node-llama-cpp", version, type: "module", exports: { ".": { import: "./dist/index.js" } } }));
  writeFileSync(join(dir, "dist", "index.js"), "export {};\n");
}

describe("parseLlamaArgs", () => {
  it("defaults to the Grok-shaped models, 1 and 2 threads, prompt 128, 32 steps, 3 reps, a 16-token check, a child process, installing", () => {
    expect(parseLlamaArgs([])).toEqual({ models: [], threads: [1, 2], prompt: 128, steps: 32, reps: 3, checkTokens: 16, inProcess: false, install: true, json: false });
  });
  it("reads every flag; repeated --model and repeated thread counts", () => {
    const o = parseLlamaArgs(["--model", "a", "--model", "b.gguf", "--threads", "2,1,2", "--prompt", "64", "--steps", "8", "--reps", "5", "--check-tokens", "0", "--in-process", "--no-install", "--json"]);
    expect(o).toEqual({ models: ["a", "b.gguf"], threads: [2, 1], prompt: 64, steps: 8, reps: 5, checkTokens: 0, inProcess: true, install: false, json: true });
  });
  it("names the bad flag and shows the usage", () => {
    expect(() => parseLlamaArgs(["--threads", "0,2"])).toThrow(/--threads .*'0,2'[\s\S]*usage: moe bench llama/);
    expect(() => parseLlamaArgs(["--threads", "two"])).toThrow(/--threads/);
    expect(() => parseLlamaArgs(["--prompt", "0"])).toThrow(/--prompt takes a positive integer, got '0'/);
    expect(() => parseLlamaArgs(["--steps", "1.5"])).toThrow(/--steps/);
    expect(() => parseLlamaArgs(["--batches", "16"])).toThrow(/batches[\s\S]*usage: moe bench llama/);
  });
});

describe("figures", () => {
  const samples = [
    { prefill: 100, decode: 10, cpuMs: 5 },
    { prefill: 300, decode: 30, cpuMs: 4 },
    { prefill: 200, decode: 20, cpuMs: 6 },
    { prefill: 150, decode: 25, cpuMs: 7 },
  ];
  it("keeps the best and the median of the reps, the least CPU, and the fractions of the roof and of the thread count's bandwidth", () => {
    const f = sideFigures(samples, 1e6, 60e6, 40e6);
    expect(f.prefillTokensPerSecond).toBe(300);
    expect(f.decodeTokensPerSecond).toBe(30);
    expect(f.prefillMedian).toBe(175);
    expect(f.decodeMedian).toBe(22.5);
    expect(f.decodeCpuMsPerStep).toBe(4);
    expect(f.roofFraction).toBeCloseTo(0.5, 12);
    expect(f.threadBandwidthFraction).toBeCloseTo(0.75, 12);
    expect(f.decodeSamples).toEqual([10, 30, 20, 25]);
    expect(sideFigures(samples.slice(0, 3), 1e6, 60e6, 60e6).decodeMedian).toBe(20);
  });
  it("divides ours by llama.cpp per row and prefill at the most threads by 1 thread for each", () => {
    const side = (p: number, d: number) => sideFigures([{ prefill: p, decode: d, cpuMs: 1 }], 1e6, 1e9, 1e9);
    const rows = [benchRow(1, side(400, 100), side(200, 200)), benchRow(2, side(600, 150), side(500, 300)), benchRow(4, side(800, 150), side(700, 300))];
    expect(rows[0]!.prefillOursOverLlama).toBe(2);
    expect(rows[0]!.decodeOursOverLlama).toBe(0.5);
    expect(prefillScaling(rows)).toEqual({ threads: 4, ours: 2, llamaCpp: 3.5 });
    expect(prefillScaling(rows.slice(0, 2))).toEqual({ threads: 2, ours: 1.5, llamaCpp: 2.5 });
    expect(prefillScaling(rows.slice(0, 1))).toBeNull();
    expect(prefillScaling(rows.slice(1))).toBeNull();
  });
  it("finds the first token that differs, also when one side generated fewer", () => {
    expect(compareTokens(1, 16, [5, 6, 7], [5, 6, 7])).toMatchObject({ identical: true, firstDifference: null, generated: 3 });
    expect(compareTokens(1, 16, [5, 6, 7, 8], [5, 6, 9, 8])).toMatchObject({ identical: false, firstDifference: 2 });
    expect(compareTokens(1, 16, [5, 6], [5, 6, 7])).toMatchObject({ identical: false, firstDifference: 2, generated: 3 });
  });
});

describe("formatLlamaBench", () => {
  const side = (p: number, d: number) => sideFigures([{ prefill: p, decode: d, cpuMs: 2.5 }], 126e6, 60e9, 30e9);
  const rows = [benchRow(1, side(4000, 150), side(2600, 160)), benchRow(2, side(3000, 170), side(4400, 200))];
  const report: LlamaBenchJson = {
    schema: LLAMA_BENCH_SCHEMA,
    llamaCpp: { package: "node-llama-cpp", version: LLAMA_CPP_VERSION, packageDir: "/x/node_modules/node-llama-cpp", process: "child" },
    load: { start: [1.5, 2, 2.5], end: [1.25, 2, 2.5] },
    bandwidth: [
      { threads: 1, readGBs: 30 },
      { threads: 2, readGBs: 60 },
    ],
    roofGBs: 60,
    prompt: 128,
    steps: 32,
    reps: 3,
    models: [
      {
        model: "grok-shaped",
        file: "m.gguf",
        weights: "f32",
        weightBytesPerToken: 126e6,
        llamaContextSize: 8192,
        contextLength: 8192,
        rows,
        prefillScaling: prefillScaling(rows),
        tokens: compareTokens(1, 16, [1, 2, 3, 4, 5], [1, 2, 3, 9, 5]),
      },
    ],
  };
  it("prints per thread count both sides, their ratio and fractions, prefill scaling, the token check, bandwidth and load", () => {
    const text = formatLlamaBench(report);
    expect(text).toContain("grok-shaped f32 (m.gguf; 126.00 MB of weights per decoded token; llama.cpp context 8192, ours 8192)");
    const one = text.split("\n").find((l) => /^\s+1 /.test(l))!;
    expect(one).toMatch(/4000 \/ 2600 \(1\.54\)/);
    expect(one).toMatch(/150\.0 \/ 160\.0 \(0\.94\)/);
    expect(one).toMatch(/0\.32 \/ 0\.34/); // 150 × 126 MB ÷ 60 GB/s, 160 × …
    expect(one).toMatch(/0\.63 \/ 0\.67/); // against 30 GB/s
    expect(text).toContain("prefill 2 threads ÷ 1 thread: ours 0.75, llama.cpp 1.69");
    expect(text).toContain("greedy tokens (prompt 16, 5 generated, 1 thread(s)): differ from token 3 (ours …2 3 4 5…, llama.cpp …2 3 9 5…); 3 leading tokens agree");
    expect(text).toContain("30 GB/s at 1 thread(s), 60 GB/s at 2 thread(s); roof = 60 GB/s");
    expect(text).toContain("load average 1.50 2.00 2.50 → 1.25 2.00 2.50");
    expect(formatLlamaBench({ ...report, models: [{ ...report.models[0]!, tokens: compareTokens(1, 8, [1, 2], [1, 2]) }] })).toContain("(prompt 8, 2 generated, 1 thread(s)): identical");
  });
  it("--json is the report itself: every figure survives JSON", () => {
    const back = JSON.parse(JSON.stringify(report)) as LlamaBenchJson;
    expect(back.schema).toBe("moe-bench-llama/1");
    expect(back.models[0]!.rows[1]!.llamaCpp.decodeTokensPerSecond).toBe(200);
    expect(back.models[0]!.rows[1]!.decodeOursOverLlama).toBeCloseTo(0.85, 12);
    expect(back.models[0]!.tokens!.firstDifference).toBe(3);
  });
});

describe("finding and installing node-llama-cpp", () => {
  it("is pinned exactly in bench/llama-cpp (package.json and lockfile), not in the project's own package", () => {
    const root = resolve(import.meta.dirname, "../..");
    const pkg = JSON.parse(readFileSync(join(root, "bench/llama-cpp/package.json"), "utf8")) as { private?: boolean; dependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync(join(root, "bench/llama-cpp/package-lock.json"), "utf8")) as { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
    const own = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(pkg.private).toBe(true);
    expect(pkg.dependencies).toEqual({ "node-llama-cpp": LLAMA_CPP_VERSION });
    expect(lock.packages[""]!.dependencies).toEqual(pkg.dependencies);
    expect(lock.packages["node_modules/node-llama-cpp"]!.version).toBe(LLAMA_CPP_VERSION);
    expect({ ...own.dependencies, ...own.devDependencies }).not.toHaveProperty("node-llama-cpp");
    expect(readFileSync(join(root, ".gitignore"), "utf8")).toMatch(/^bench\/llama-cpp\/node_modules\/$/m);
  });
  it("finds the bench folder's install, or the one $MOE_LLAMA_CPP_DIR names (a folder holding node_modules, or the package itself)", () => {
    const bench = freshDir();
    expect(findLlamaCpp(bench, {})).toBeUndefined();
    writePackage(join(bench, "node_modules", "node-llama-cpp"));
    expect(findLlamaCpp(bench, {})).toEqual({
      packageDir: join(bench, "node_modules", "node-llama-cpp"),
      entry: join(bench, "node_modules", "node-llama-cpp", "dist", "index.js"),
      version: LLAMA_CPP_VERSION,
      source: "bench",
    });
    const other = freshDir();
    writePackage(other, "3.22.0");
    expect(findLlamaCpp(bench, { [LLAMA_CPP_DIR_ENV]: other })).toMatchObject({ packageDir: other, version: "3.22.0", source: "env" });
  });
  it("rejects a $MOE_LLAMA_CPP_DIR without the package, naming the variable and what it looked for", () => {
    const empty = freshDir();
    const err = (() => {
      try {
        findLlamaCpp(freshDir(), { [LLAMA_CPP_DIR_ENV]: empty });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(LlamaCppSetupError);
    expect(err).toMatchObject({ code: "BAD_DIR" });
    expect((err as Error).message).toContain(`${LLAMA_CPP_DIR_ENV}=${empty}: no node-llama-cpp there`);
    expect((err as Error).message).toContain(join(empty, "node_modules", "node-llama-cpp", "package.json"));
  });
  it("with --no-install explains the 730 MB download and the ways around it instead of installing", async () => {
    const bench = freshDir();
    const err = await ensureLlamaCpp({ benchDir: bench, env: {}, install: false, log: () => {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "NOT_INSTALLED" });
    const msg = (err as Error).message;
    expect(msg).toContain("~730 MB");
    expect(msg).toContain(`npm install --prefix ${bench} --no-audit --no-fund`);
    expect(msg).toContain(LLAMA_CPP_DIR_ENV);
    expect(msg).toContain("--no-install");
    expect(installCommand(bench).args).toEqual(["install", "--prefix", bench, "--no-audit", "--no-fund"]);
  });
  it("installs when missing: says so first, runs the command (a real process), then uses what it installed; warns on another version", async () => {
    const bench = freshDir();
    const target = join(bench, "node_modules", "node-llama-cpp");
    const script = `const fs=require("fs"),p=require("path"),d=process.argv[1];fs.mkdirSync(p.join(d,"dist"),{recursive:true});` +
      `fs.writeFileSync(p.join(d,"package.json"),JSON.stringify({name:"node-llama-cpp",version:"3.20.0",main:"dist/index.js"}));fs.writeFileSync(p.join(d,"dist","index.js"),"")`;
    const lines: string[] = [];
    const got = await ensureLlamaCpp({ benchDir: bench, env: {}, command: { command: process.execPath, args: ["-e", script, target] }, log: (l) => lines.push(l) });
    expect(got).toMatchObject({ packageDir: target, version: "3.20.0", source: "bench", entry: join(target, "dist", "index.js") });
    expect(lines[0]).toContain("~730 MB");
    expect(lines[1]).toMatch(/3\.20\.0, not the pinned 3\.21\.1/);
    // installed now: found without running anything
    const again: string[] = [];
    await ensureLlamaCpp({ benchDir: bench, env: {}, install: false, log: (l) => again.push(l) });
    expect(again.some((l) => l.includes("730 MB"))).toBe(false);
  });
  it("reports a failed install, and one that left no package behind", async () => {
    const failed = await ensureLlamaCpp({ benchDir: freshDir(), env: {}, command: { command: process.execPath, args: ["-e", "process.exit(3)"] }, log: () => {} }).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: "INSTALL_FAILED" });
    expect((failed as Error).message).toMatch(/exited with code 3.*set MOE_LLAMA_CPP_DIR/);
    const empty = await ensureLlamaCpp({ benchDir: freshDir(), env: {}, command: { command: process.execPath, args: ["-e", ""] }, log: () => {} }).catch((e: unknown) => e);
    expect(empty).toMatchObject({ code: "INSTALL_FAILED" });
    expect((empty as Error).message).toMatch(/succeeded but .*node-llama-cpp is still missing/);
  });
});

describe("ggufOf", () => {
  it("takes a .gguf file, or the weight file openModel opens in a directory: its only .gguf, a split set's first part", () => {
    const d = freshDir();
    writeFileSync(join(d, "model.gguf"), "");
    writeFileSync(join(d, "config.json"), "{}");
    writeFileSync(join(d, "tokenizer.model"), "");
    expect(ggufOf(join(d, "model.gguf"))).toBe(join(d, "model.gguf"));
    expect(ggufOf(d)).toBe(join(d, "model.gguf"));
    expect(ggufOf(d)).toBe(findModelFiles(d).weights);
    const one = freshDir();
    writeFileSync(join(one, "x.gguf"), "");
    expect(ggufOf(one)).toBe(join(one, "x.gguf"));
    const split = freshDir();
    for (const i of [2, 1, 3]) writeFileSync(join(split, `m-0000${i}-of-00003.gguf`), "");
    expect(ggufOf(split)).toBe(join(split, "m-00001-of-00003.gguf"));
  });
  it("names the path and the files when there is no one GGUF, as openModel does for a directory", () => {
    // several weight files: openModel refuses the directory, so llama.cpp gets none of them (model.gguf is not preferred)
    const two = freshDir();
    writeFileSync(join(two, "model.gguf"), "");
    writeFileSync(join(two, "b.gguf"), "");
    writeFileSync(join(two, "config.json"), "{}");
    expect(() => ggufOf(two)).toThrow(ModelConfigError);
    expect(() => ggufOf(two)).toThrow(`${two}: model directory has several weight files (b.gguf, model.gguf); expected exactly one`);
    expect(() => openModel(two)).toThrow(/several weight files \(b\.gguf, model\.gguf\)/);
    const empty = freshDir();
    expect(() => ggufOf(empty)).toThrow(`${empty}: model directory has no weight file (*.gguf or *.safetensors)`);
    const splitGap = freshDir();
    for (const i of [2, 3]) writeFileSync(join(splitGap, `m-0000${i}-of-00003.gguf`), "");
    expect(() => ggufOf(splitGap)).toThrow(/holds split GGUF files \(m-00002-of-00003\.gguf, m-00003-of-00003\.gguf\) but not the first split/);
    const stDir = freshDir();
    writeFileSync(join(stDir, "m.safetensors"), "");
    expect(() => ggufOf(stDir)).toThrow(`${stDir}: llama.cpp reads GGUF files only, and the directory's weights (m.safetensors) is not one`);
    const st = join(freshDir(), "m.safetensors");
    writeFileSync(st, "");
    expect(() => ggufOf(st)).toThrow(`${st}: llama.cpp reads GGUF files only, and this file is not one (fix: pass a .gguf file`);
    const xai = freshDir();
    mkdirSync(join(xai, "ckpt-0"));
    writeFileSync(join(xai, "ckpt-0", "tensor00000_000"), "");
    expect(() => ggufOf(xai)).toThrow(`${xai}: an xAI checkpoint; llama.cpp reads GGUF files only (fix: write one with \`moe model convert --from ${xai} --to FILE.gguf\`)`);
    expect(() => ggufOf(join(tmp, "nope"))).toThrow(`${join(tmp, "nope")}: no such model file or directory\nusage: moe bench llama`);
  });
});

describe("the bench list", () => {
  it("runs llama, cluster-ab and warmup-trend only when named", () => {
    expect(BENCHES).toContain("llama");
    expect(BENCHES).toContain("warmup-trend");
    expect(DEFAULT_BENCHES).not.toContain("llama");
    expect(DEFAULT_BENCHES).not.toContain("cluster-ab");
    expect(DEFAULT_BENCHES).not.toContain("warmup-trend");
    expect(DEFAULT_BENCHES).toEqual(BENCHES.filter((b) => b !== "llama" && b !== "cluster-ab" && b !== "warmup-trend"));
  });
});

describe("the llama.cpp child process", () => {
  it("answers a node-llama-cpp that cannot load with an error naming the model, and exits", async () => {
    const bad = join(freshDir(), "index.js");
    writeFileSync(bad, "throw new Error('not llama');\n");
    const err = await openLlamaPeer({ entry: bad, modelPath: "/nowhere/m.gguf", threads: [1], contextSize: 256, batchSize: 16, inProcess: false }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/llama\.cpp could not load \/nowhere\/m\.gguf: not llama/);
  });
});
