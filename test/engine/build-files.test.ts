/**
 * Large sessions are built from files (model/blocks/build-files.ts, ComputeOptions.buildFromFilesMinBytes):
 * onnxruntime maps the codes and scales from a temporary directory instead of copying in-memory arrays.
 * The numbers must not change: an engine whose every block is built from files computes the same logits,
 * bit for bit, as one built from memory; the directory is left empty; an unusable directory falls back to
 * building from memory. Where onnxruntime never reads MatMulNBits' scales after pre-packing (x86-64 with
 * AVX2), their files are truncated once the session is built: the mapping onnxruntime keeps holds no pages,
 * and the outputs stay bit-identical.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createGraphSession, Elem, Engine, GraphBuilder, linear, openModel, packedScalesDroppable, presetConfig, quantizeQ8_0, type ComputeOptions } from "../../model/index.js";
import * as ort from "onnxruntime-node";
import { generateModel } from "../../factory/index.js";

const root = mkdtempSync(join(tmpdir(), "moe-build-files-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("sessions built from files", () => {
  it("a graph's external initializers go through files above the threshold (then dropped from the graph), from memory below it or when the directory is unusable", async () => {
    const [N, K] = [64, 256];
    const codes = Uint8Array.from({ length: N * K }, (_, i) => (i * 37) & 255);
    const scales = Float32Array.from({ length: (N * K) / 32 }, (_, i) => 0.01 + i * 1e-4);
    const build = () => {
      const g = new GraphBuilder("nbits", { externalMinBytes: 1024 });
      const x = g.input("x", Elem.FLOAT, ["R", K]);
      const y = g.op("MatMulNBits", [x, g.u8("q", codes, [N, K / 32, 32]), g.f32("s", scales, [N, K / 32])], { K, N, bits: 8, block_size: 32, accuracy_level: 4 }, "com.microsoft");
      g.output("y", y, Elem.FLOAT, ["R", N]);
      return g.build();
    };
    const buildDir = join(root, "graph-build");
    mkdirSync(buildDir);
    const xs = new ort.Tensor("float32", Float32Array.from({ length: 2 * K }, (_, i) => Math.sin(i)), [2, K]);
    const outs: Float32Array[] = [];
    for (const [o, files] of [
      [{ buildFromFilesMinBytes: Infinity }, false],
      [{ buildFromFilesMinBytes: 1, buildDir }, true],
      [{ buildFromFilesMinBytes: 1, buildDir: join(root, "missing") }, false],
    ] as const) {
      const graph = build();
      expect(graph.external.length).toBe(2);
      const s = await createGraphSession(graph, { threads: 1, ...o });
      try {
        expect(s.builtFromFiles).toBe(files);
        expect(graph.external.length).toBe(files ? 0 : 2);
        expect(readdirSync(buildDir)).toEqual([]);
        outs.push((await s.session.run(2, { x: xs })).y!.data as Float32Array);
      } finally {
        await s.session.release();
      }
    }
    for (const o of outs.slice(1)) expect(Buffer.from(o.buffer).equals(Buffer.from(outs[0]!.buffer))).toBe(true);
  });

  it("grok-1-tiny q8_0 (int8 and exact) and f32: the same logits as built from memory; no files left; a bad directory falls back", async () => {
    const cfg = presetConfig("grok-1-tiny");
    const buildDir = join(root, "build");
    mkdirSync(buildDir);
    for (const [dtype, base] of [["q8_0", {}], ["q8_0", { exactQ8: true }], ["f32", {}]] as const) {
      const dir = join(root, `${dtype}-${Object.keys(base).length}`);
      if (!existsSync(dir)) generateModel({ config: cfg, outDir: dir, format: "gguf", dtype, seed: 5 });
      const m = openModel(dir);
      const settings: ComputeOptions[] = [
        { threads: 1, buildFromFilesMinBytes: Infinity },
        { threads: 1, buildFromFilesMinBytes: 0, buildDir },
        { threads: 1, buildFromFilesMinBytes: 0, buildDir: join(root, "no-such-dir") },
      ];
      try {
        const outs: Float32Array[][] = [];
        for (const s of settings) {
          const e = await Engine.create(m.config, m.weights, { ...base, ...s });
          try {
            expect(readdirSync(buildDir)).toEqual([]); // removed once each session was built
            const seq = e.newSequence();
            const prompt = Array.from({ length: 12 }, (_, i) => 4 + ((i * 7919) % (cfg.vocabSize - 4)));
            const got = [await e.forward([{ seq, tokens: prompt }], { allPositions: true })];
            for (const t of [5, 9]) got.push(await e.forward([{ seq, tokens: [t] }]));
            outs.push(got);
          } finally {
            await e.close();
          }
        }
        for (const o of outs.slice(1)) for (let i = 0; i < o.length; i++) expect(Buffer.from(o[i]!.buffer).equals(Buffer.from(outs[0]![i]!.buffer))).toBe(true);
        expect(outs[0]![0]!.some((v) => v !== 0)).toBe(true);
      } finally {
        m.close();
      }
    }
    expect(existsSync(join(root, "no-such-dir"))).toBe(false);
  });
});

/** Resident kB of each mapping of a file under `dir` (/proc/self/smaps), by path. */
function mappedUnder(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  let path: string | undefined;
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s+(.*)$/.exec(line);
    if (head) path = head[1]!.startsWith(dir) ? head[1]! : undefined;
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && path !== undefined) out.set(path, (out.get(path) ?? 0) + Number(rss[1]));
  }
  return out;
}

describe("packed-only MatMulNBits scales", () => {
  it.skipIf(!packedScalesDroppable())("are dropped once a session is built from files (onnxruntime's mapping of them holds no pages); int8 and exact, 1/3/40 rows, 1 and 2 threads: the same outputs as from memory", async () => {
    const [N, K] = [4096, 2048]; // scales 1 MiB, codes 8 MiB
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const blocks = quantizeQ8_0(Float32Array.from({ length: N * K }, rand));
    const buildDir = join(root, "drop-build");
    mkdirSync(buildDir);
    for (const q8 of ["int8", "exact"] as const)
      for (const threads of [1, 2]) {
        const build = () => {
          const g = new GraphBuilder("nbits", { externalMinBytes: 1024 });
          const x = g.input("x", Elem.FLOAT, ["R", K]);
          g.output("y", linear(g, x, { kind: "q8_0", out: N, in: K, blocks }, "w", { q8 }), Elem.FLOAT, ["R", N]);
          return g.build();
        };
        const memory = await createGraphSession(build(), { threads, buildFromFilesMinBytes: Infinity });
        const dropped = await createGraphSession(build(), { threads, buildFromFilesMinBytes: 1, buildDir });
        try {
          expect(dropped.builtFromFiles).toBe(true);
          expect(readdirSync(buildDir)).toEqual([]);
          const maps = mappedUnder(buildDir);
          // onnxruntime keeps its mapping of the scales (a deleted file now), without a resident page
          expect([...maps.keys()].some((p) => /_s_\d+\.bin \(deleted\)$/.test(p)), JSON.stringify([...maps])).toBe(true);
          for (const [p, kb] of maps) expect(kb, p).toBe(0);
          for (const R of [1, 3, 40]) {
            const xs = new ort.Tensor("float32", Float32Array.from({ length: R * K }, rand), [R, K]);
            const want = (await memory.session.run(R, { x: xs })).y!.data as Float32Array;
            const got = (await dropped.session.run(R, { x: xs })).y!.data as Float32Array;
            expect(want.some((v) => v !== 0)).toBe(true);
            expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength)), `${q8} ${threads} threads ${R} rows`).toBe(true);
          }
        } finally {
          await memory.session.release();
          await dropped.session.release();
        }
      }
  });

  it("stay embedded when dropping is off (dropPackedScales false or MOE_DROP_PACKED_SCALES=0): no mapping of the build directory", async () => {
    const [N, K] = [256, 1024];
    const blocks = quantizeQ8_0(Float32Array.from({ length: N * K }, (_, i) => Math.sin(i)));
    const buildDir = join(root, "keep-build");
    mkdirSync(buildDir);
    const g = new GraphBuilder("nbits", { externalMinBytes: 1024 });
    const x = g.input("x", Elem.FLOAT, ["R", K]);
    g.output("y", linear(g, x, { kind: "q8_0", out: N, in: K, blocks }, "w"), Elem.FLOAT, ["R", N]);
    const s = await createGraphSession(g.build(), { threads: 1, buildFromFilesMinBytes: 1, buildDir, dropPackedScales: false });
    try {
      expect(s.builtFromFiles).toBe(true);
      expect([...mappedUnder(buildDir).keys()]).toEqual([]);
    } finally {
      await s.session.release();
    }
  });
});
