/**
 * Expert parallelism inside one process (ComputeOptions.expertWorkers, model/engine/expert-workers.ts):
 * the experts split over the main thread and worker threads must give exactly the serial engine's
 * logits and tokens, close every worker, and report a worker's failure to the caller.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Engine, ExpertWorkerError, ExpertWorkers, openModel, presetConfig, type ComputeOptions } from "../../model/index.js";
import { generateModel } from "../../factory/index.js";
import { engineTrace } from "./engine-trace.js";

const root = mkdtempSync(join(tmpdir(), "moe-expert-workers-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("expert worker threads", () => {
  it("grok-1-tiny f32 and Q8_0 (int8 and exact): prefill, decode and greedy steps equal the serial engine's bit for bit; close ends the workers", async () => {
    const cfg = presetConfig("grok-1-tiny");
    for (const [dtype, bases] of [
      ["f32", [{}]],
      ["q8_0", [{}, { exactQ8: true }]],
    ] as const) {
      const dir = join(root, dtype);
      generateModel({ config: cfg, outDir: dir, format: "gguf", dtype, seed: 5 });
      const m = openModel(dir);
      try {
        for (const base of bases as readonly ComputeOptions[]) {
          const serial = await Engine.create(m.config, m.weights, { ...base, threads: 1 });
          const split = [await Engine.create(m.config, m.weights, { ...base, threads: 1, expertWorkers: 2 }), await Engine.create(m.config, m.weights, { ...base, threads: 2, expertWorkers: 3 })];
          try {
            expect(split.map((e) => e.moe.workerThreads)).toEqual([1, 2]);
            const want = await engineTrace(serial, cfg.vocabSize);
            expect(want.tokens.flat().every((t) => Number.isInteger(t) && t >= 0)).toBe(true);
            for (const e of split) {
              const got = await engineTrace(e, cfg.vocabSize);
              expect(got.tokens).toEqual(want.tokens);
              expect(got.logits.length).toBe(want.logits.length);
              for (let i = 0; i < want.logits.length; i++) expect(got.logits[i]).toEqual(want.logits[i]);
              // every expert ran somewhere: the routed-token counts are the serial engine's
              expect(e.moe.counts).toEqual(serial.moe.counts);
              const routed = e.moe.counts.flat().reduce((a, b) => a + b, 0);
              expect(e.moe.workerRows).toBeGreaterThan(0);
              expect(e.moe.workerRows).toBeLessThan(routed);
            }
          } finally {
            await serial.close();
            for (const e of split) await e.close();
          }
          expect(split.map((e) => e.moe.workerThreads)).toEqual([0, 0]);
        }
      } finally {
        m.close();
      }
    }
  });

  it("a worker's failure reaches the caller as an ExpertWorkerError; a closed worker rejects new work", async () => {
    const w = ExpertWorkers.start(2, { threads: 1 });
    try {
      expect(w.running).toBe(1);
      const err = await w.run(1, 7, [{ expert: 3, x: new Float32Array(8) }]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExpertWorkerError);
      expect((err as Error).message).toMatch(/expert worker 1: expert 3 of layer 7 is not loaded in this worker/);
    } finally {
      await w.close();
    }
    expect(w.running).toBe(0);
    await expect(w.run(1, 0, [{ expert: 1, x: new Float32Array(8) }])).rejects.toThrow(/expert worker 1 was closed/);
  });
});
