/**
 * `restart`: a process that dies after start-up is started again with the
 * same name, ports and part of the plan. SIGKILL the only expert host and
 * then the last stage host: each comes back with a new pid, and new
 * sequences are served with exactly the single-process engine's logits.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockstep, prompts, reference, startCluster, tempDir, writeClusterYaml, type Started, tearDown } from "./helpers.js";

describe("cluster: restarting dead processes", () => {
  const tmp = tempDir();
  let ref: Awaited<ReturnType<typeof reference>>;
  let c: Started | undefined;
  const everyPid = new Set<number>();

  beforeAll(async () => {
    ref = await reference();
    const file = writeClusterYaml(
      tmp.dir,
      {
        name: "restart",
        stages: [
          [0, 2],
          [2, 4],
        ],
        expertHosts: ["solo"],
        place: () => ["solo"],
        timeouts: { step: "8s", dispatch: "1s" },
      },
      ref.config,
    );
    c = await startCluster(file, `${tmp.dir}/run`, { restart: { maxRestarts: 2 } });
    c.pids.forEach((p) => everyPid.add(p));
  });

  afterAll(() => tearDown(c, ref, tmp, everyPid));

  /** Wait until `name` runs under a pid other than `old` and answers its control endpoint. */
  async function restarted(name: string, old: number): Promise<number> {
    const end = Date.now() + 60_000;
    for (;;) {
      const s = c!.cluster.states().find((x) => x.name === name)!;
      if (s.pid !== old && s.alive) {
        const states = await c!.monitor.poll();
        if (states.find((x) => x.process.name === name)?.up) return s.pid;
      }
      if (Date.now() > end) throw new Error(`${name} was not restarted within 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** New sequences through the whole pipeline match the engine; retried while the routers' cool-down runs out. */
  async function servesExactly(seqBase: number): Promise<void> {
    const ps = prompts(ref.config, [3, 9, 1, 14]);
    const end = Date.now() + 30_000;
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await lockstep(c!.client, ref.backend, ps, 6, seqBase + 100 * attempt);
        expect(r.maxRelError).toBeLessThanOrEqual(1e-5);
        expect(r.tokens).toEqual(r.refTokens);
        return;
      } catch (e) {
        await ref.backend.release(ps.map((_, i) => seqBase + 100 * attempt + i));
        if (Date.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  it("serves before any failure", async () => {
    await servesExactly(1000);
  });

  it("restarts the only expert host after SIGKILL and serves exactly again", async () => {
    const old = c!.cluster.pid("solo");
    process.kill(old, "SIGKILL");
    const pid = await restarted("solo", old);
    everyPid.add(pid);
    await servesExactly(2000);
  });

  it("restarts a stage host after SIGKILL; new sequences are served exactly", async () => {
    const old = c!.cluster.pid("stage1");
    process.kill(old, "SIGKILL");
    const pid = await restarted("stage1", old);
    everyPid.add(pid);
    await servesExactly(3000);
    expect(c!.cluster.states().every((s) => s.alive)).toBe(true);
  });
});
