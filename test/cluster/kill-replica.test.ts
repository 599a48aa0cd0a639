/**
 * SIGKILL the host of replicated experts while requests are in flight: the
 * routers retry on the other replica, so every request completes with the
 * single-process engine's tokens; the surviving processes stay up and hold
 * nothing afterwards; stopping leaves no process.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive, prompts, recordFigures, reference, stageLeftovers, startCluster, tempDir, writeClusterYaml, type Started, tearDown } from "./helpers.js";
import { runRounds, traceRoutes, type Trace } from "./kill-helpers.js";
import { PROMPT_LENGTHS } from "./suite.js";

const STEPS = 32;
const KILL_ROUND = 8;
const STEP_MS = 8000;
const DISPATCH_MS = 1000;

describe("cluster: killing the host of a replicated expert", () => {
  const tmp = tempDir();
  let ref: Awaited<ReturnType<typeof reference>>;
  let c: Started | undefined;
  let trace: Trace;
  let ps: number[][];

  beforeAll(async () => {
    ref = await reference();
    ps = prompts(ref.config, PROMPT_LENGTHS);
    trace = await traceRoutes(ref.backend, ps, STEPS, 1);
    const file = writeClusterYaml(
      tmp.dir,
      {
        name: "kill-replica",
        stages: [
          [0, 2],
          [2, 4],
        ],
        expertHosts: ["main", "rep"],
        // half of every layer's experts are replicated, the replica on `rep` listed (and so used) first
        place: (l, e) => ((l + e) % 2 === 0 ? ["rep", "main"] : ["main"]),
        timeouts: { step: `${STEP_MS}ms`, dispatch: `${DISPATCH_MS}ms` },
      },
      ref.config,
    );
    c = await startCluster(file, `${tmp.dir}/run`);
  });

  afterAll(() => tearDown(c, ref, tmp));

  it("loses no request and changes no token", async () => {
    const repPid = c!.cluster.pid("rep");
    let servedBeforeKill = 0;
    const t0 = performance.now();
    const out = await runRounds(c!.client, ps, STEPS, 1000, {
      beforeRound: async (k) => {
        if (k !== KILL_ROUND) return;
        const states = await c!.monitor.poll();
        servedBeforeKill = states.find((s) => s.process.name === "rep")?.status?.expert?.requests ?? 0;
      },
      duringRound: async (k) => {
        if (k !== KILL_ROUND) return;
        await new Promise((r) => setTimeout(r, 5));
        process.kill(repPid, "SIGKILL");
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    const slowest = Math.max(...out.map((o) => o.slowestSeconds));
    recordFigures("kill-replica", { servedBeforeKill, slowestRequestSeconds: slowest, totalSeconds: seconds, dispatchTimeoutMs: DISPATCH_MS, stepDeadlineMs: STEP_MS });
    expect(servedBeforeKill).toBeGreaterThan(0);
    expect(out.map((o) => o.error?.message)).toEqual(out.map(() => undefined));
    expect(out.map((o) => o.tokens)).toEqual(trace.tokens);
    expect(slowest).toBeLessThan(STEP_MS / 1000);
    expect(alive(repPid)).toBe(false);
  });

  it("keeps the surviving processes up with nothing left behind", async () => {
    const left = await stageLeftovers(c!.monitor);
    const down = left.states.filter((s) => !s.up).map((s) => s.process.name);
    expect(down).toEqual(["rep"]);
    expect(left.live).toBe(0);
    expect(left.inflightRows).toBe(0);
    expect(c!.cluster.states().filter((s) => s.alive).map((s) => s.name).sort()).toEqual(["main", "stage0", "stage1"]);
  });
});
