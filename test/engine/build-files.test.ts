/**
 * Large sessions are built from files (model/blocks/build-files.ts, ComputeOptions.buildFromFilesMinBytes):
 * onnxruntime maps the codes and scales from a temporary directory instead of copying in-memory arrays.
 * The numbers must not change: an engine whose every block is built from files computes the same logits,
 * bit for bit, as one built from memory; the directory is left empty; an unusable directory falls back to
 * building from memory.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createGraphSession, Elem, Engine, GraphBuilder, openModel, presetConfig, type ComputeOptions } from "../../model/index.js";
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
