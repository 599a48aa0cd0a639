/**
 * SIGKILL the only host of one (layer, expert) during generation: the
 * requests that need that expert afterwards fail within their deadline with
 * an error naming the layer, the expert and the host; every other request
 * completes with the engine's tokens; the processes left stay up and hold
 * nothing afterwards; stopping leaves no process.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prompts, recordFigures, reference, stageLeftovers, startCluster, tempDir, writeClusterYaml, type Started, tearDown } from "./helpers.js";
import { runRounds, traceRoutes, type Trace } from "./kill-helpers.js";
import { PROMPT_LENGTHS } from "./suite.js";

const STEPS = 32;
const KILL_ROUND = 4;
const STEP_MS = 8000;
const DISPATCH_MS = 1000;

/** First round ≥ KILL_ROUND at which each sequence needs `key`, or undefined. */
function firstNeed(trace: Trace, key: string): (number | undefined)[] {
  return trace.routes.map((rs) => {
    for (let s = KILL_ROUND; s < rs.length; s++) if (rs[s]!.has(key)) return s;
    return undefined;
  });
}

describe("cluster: killing the only host of an expert", () => {
  const tmp = tempDir();
  let ref: Awaited<ReturnType<typeof reference>>;
  let c: Started | undefined;
  let trace: Trace;
  let ps: number[][];
  let victim: { layer: number; expert: number };

  beforeAll(async () => {
    ref = await reference();
    const cfg = ref.config;
    ps = prompts(cfg, PROMPT_LENGTHS);
    trace = await traceRoutes(ref.backend, ps, STEPS, 1);
    // an expert of the last layer (its error crosses both stages) that some sequences need after the kill and some never do
    const candidates = [];
    for (let l = cfg.nLayers - 1; l >= 0; l--)
      for (let e = 0; e < cfg.nExperts; e++) {
        const need = firstNeed(trace, `${l}:${e}`).filter((s) => s !== undefined).length;
        if (need >= 1 && need <= ps.length - 2) candidates.push({ layer: l, expert: e, need });
      }
    if (!candidates.length) throw new Error("no expert is needed by only some of the sequences; change the prompts");
    victim = candidates[0]!;
    const file = writeClusterYaml(
      tmp.dir,
      {
        name: "kill-only-host",
        stages: [
          [0, 2],
          [2, 4],
        ],
        expertHosts: ["main", "solo"],
        place: (l, e) => (l === victim.layer && e === victim.expert ? ["solo"] : ["main"]),
        timeouts: { step: `${STEP_MS}ms`, dispatch: `${DISPATCH_MS}ms` },
      },
      cfg,
    );
    c = await startCluster(file, `${tmp.dir}/run`);
  });

  afterAll(() => tearDown(c, ref, tmp));

  it("fails exactly the requests that need it, naming layer, expert and host, within their deadline", async () => {
    const soloPid = c!.cluster.pid("solo");
    const out = await runRounds(c!.client, ps, STEPS, 2000, {
      beforeRound: (k) => {
        if (k === KILL_ROUND) process.kill(soloPid, "SIGKILL");
      },
    });
    const need = firstNeed(trace, `${victim.layer}:${victim.expert}`);
    const failSeconds = out.flatMap((o) => (o.failSeconds !== undefined ? [o.failSeconds] : []));
    recordFigures("kill-only-host", { victim, failed: failSeconds.length, of: out.length, failSecondsMax: Math.max(...failSeconds), failSecondsMin: Math.min(...failSeconds), dispatchTimeoutMs: DISPATCH_MS, stepDeadlineMs: STEP_MS, message: out.find((o) => o.error)?.error?.message });
    out.forEach((o, i) => {
      const at = need[i];
      if (at === undefined) {
        expect(o.error, `sequence ${i} does not need the expert`).toBeUndefined();
        expect(o.tokens).toEqual(trace.tokens[i]);
      } else {
        expect(o.failedAt, `sequence ${i} needs (layer ${victim.layer}, expert ${victim.expert}) at round ${at}`).toBe(at);
        expect(o.error!.message).toMatch(new RegExp(`layer ${victim.layer}, expert ${victim.expert}\\) unavailable: host solo`));
        expect(o.failSeconds!).toBeLessThan(STEP_MS / 1000);
        expect(o.tokens).toEqual(trace.tokens[i]!.slice(0, at));
      }
    });
    expect(failSeconds.length).toBeGreaterThan(0);
  });

  it("keeps the surviving processes up with nothing left behind", async () => {
    const left = await stageLeftovers(c!.monitor);
    expect(left.states.filter((s) => !s.up).map((s) => s.process.name)).toEqual(["solo"]);
    expect(left.live).toBe(0);
    expect(left.inflightRows).toBe(0);
    expect(c!.cluster.states().filter((s) => s.alive).map((s) => s.name).sort()).toEqual(["main", "stage0", "stage1"]);
  });
});
