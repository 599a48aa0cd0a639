/**
 * `moe bench engine --keep-context` (bench/engine.ts): each engine's batch is prefilled once and every rep's
 * decode steps continue those live sequences (decode at a long context without a prefill per rep); a real
 * engine on a generated grok-1-tiny, the bench's own JSON.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { generateModel } from "../../factory/index.js";
import { Engine, presetConfig } from "../../model/index.js";
import { run } from "../../bench/engine.js";

const root = mkdtempSync(join(tmpdir(), "moe-bench-keep-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe("bench engine --keep-context", () => {
  it("prefills once per engine and batch, decodes every rep on the same live sequences, and releases them", async () => {
    const dir = join(root, "tiny");
    generateModel({ config: presetConfig("grok-1-tiny"), outDir: dir, format: "gguf", dtype: "f32", seed: 3 });
    const steps: { rows: number; firstPos: number }[] = [];
    const live: number[] = [];
    const create = Engine.create.bind(Engine);
    vi.spyOn(Engine, "create").mockImplementation(async (...a: Parameters<typeof Engine.create>) => {
      const e = await create(...a);
      const step = e.step.bind(e);
      e.step = async (rows) => {
        steps.push({ rows: rows.seq.length, firstPos: rows.pos[0]! });
        return step(rows);
      };
      const close = e.close.bind(e);
      e.close = async () => {
        live.push(e.core.liveSequences);
        return close();
      };
      return e;
    });
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    await run(["--model", dir, "--threads", "1", "--batches", "2,3", "--prompt", "6", "--steps", "2", "--reps", "3", "--keep-context", "--json"]);
    const out = JSON.parse(String(log.mock.calls.at(-1)![0])) as { keepContext: boolean; rows: { batch: number; prefillSamples: number[]; decodeSamples: number[] }[] };
    expect(out.keepContext).toBe(true);
    expect(out.rows.map((r) => [r.batch, r.prefillSamples.length, r.decodeSamples.length])).toEqual([
      [2, 1, 3],
      [3, 1, 3],
    ]);
    // per batch: one prefill (6 rows per sequence), 2 warm-up steps, then 3 reps × 2 steps continuing the positions
    const prefills = steps.filter((s) => s.rows > 3);
    expect(prefills.map((s) => s.rows)).toEqual([12, 18]);
    expect(steps.filter((s) => s.rows === 3).map((s) => s.firstPos)).toEqual([6, 7, 8, 9, 10, 11, 12, 13]);
    const batch2 = steps.filter((s) => s.rows === 2).map((s) => s.firstPos);
    expect(batch2).toEqual([6, 7, 8, 9, 10, 11, 12, 13]);
    expect(live).toEqual([0]);
  });
});
