/**
 * The equivalence suite every cluster layout runs: start the cluster as real
 * OS processes on 127.0.0.1, drive 8 sequences of different prompt lengths
 * through prefill + 32 batched decode steps on it and on the single-process
 * engine, and compare logits and greedy tokens; then check that releasing
 * the sequences leaves nothing behind and that stopping leaves no process.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelConfig } from "../../model/index.js";
import { alive, lockstep, prompts, recordFigures, reference, stageLeftovers, startCluster, tempDir, type Comparison, type Started, tearDown } from "./helpers.js";

/** Prompt lengths of the 8 sequences. */
export const PROMPT_LENGTHS = [1, 3, 5, 8, 11, 16, 23, 31] as const;
/** Decode steps after the prefill. */
export const DECODE_STEPS = 32;

export interface SuiteOptions {
  /** Suite title. */
  readonly title: string;
  /** Writes the cluster file into `dir`; returns its path. */
  readonly clusterFile: (dir: string, cfg: ModelConfig) => string;
  /** Largest relative max error of the logits allowed (f32 wire: 1e-5); undefined = not checked. */
  readonly tolerance?: number;
  /** Expected number of stage processes and expert hosts. */
  readonly stages: number;
  readonly expertHosts: number;
}

/** Define the suite for one layout. */
export function equivalenceSuite(o: SuiteOptions): void {
  describe(o.title, () => {
    const tmp = tempDir();
    let ref: Awaited<ReturnType<typeof reference>>;
    let c: Started | undefined;
    let result: Comparison;

    beforeAll(async () => {
      ref = await reference();
      const file = o.clusterFile(tmp.dir, ref.config);
      c = await startCluster(file, `${tmp.dir}/run`);
    });

    afterAll(() => tearDown(c, ref, tmp));

    it("runs the planned layout as separate OS processes", () => {
      const rt = c!.cluster.runtime;
      expect(rt.stages).toHaveLength(o.stages);
      expect(Object.keys(rt.expertHosts)).toHaveLength(o.expertHosts);
      const pids = c!.cluster.states().map((s) => s.pid);
      expect(new Set([...pids, process.pid]).size).toBe(pids.length + 1);
      expect(pids.every(alive)).toBe(true);
    });

    it(`matches the single-process engine: 8 sequences, prefill + ${DECODE_STEPS} batched decode steps`, async () => {
      const ps = prompts(ref.config, PROMPT_LENGTHS);
      result = await lockstep(c!.client, ref.backend, ps, DECODE_STEPS, 1000);
      recordFigures(o.title.replace(/\W+/g, "-"), {
        maxRelError: result.maxRelError,
        prefillRelError: result.prefillRelError,
        tokensEqual: JSON.stringify(result.tokens) === JSON.stringify(result.refTokens),
        clusterSecondsPerStep: result.clusterSeconds / (DECODE_STEPS + 1),
      });
      expect(result.tokens).toEqual(result.refTokens);
      expect(result.tokens.every((t) => t.length === DECODE_STEPS + 1)).toBe(true);
      if (o.tolerance !== undefined) {
        expect(result.prefillRelError).toBeLessThanOrEqual(o.tolerance);
        expect(result.maxRelError).toBeLessThanOrEqual(o.tolerance);
      }
    });

    it("leaves no KV cache and no dispatch in flight once the sequences are released", async () => {
      const left = await stageLeftovers(c!.monitor);
      expect(left.states.every((s) => s.up)).toBe(true);
      expect(left.live).toBe(0);
      expect(left.inflightRows).toBe(0);
    });
  });
}
