/**
 * A process that cannot come up: the launcher names it, shows its log tail,
 * and stops every process it had started.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { AlreadyRunningError, computeRuntime, launch, StartupError, writeRunDir, type LaunchEvent } from "../../control/index.js";
import { presetConfig } from "../../model/index.js";
import { loadClusterConfig } from "../../config/index.js";
import { makePlan } from "../../planner/index.js";
import { clusterAndSettings } from "../clusters.js";
import { alive, tempDir, writeClusterYaml } from "./helpers.js";

describe("launcher start-up failure", () => {
  const tmp = tempDir();
  let blocker: Server | undefined;
  afterAll(async () => {
    await new Promise((r) => (blocker ? blocker.close(r) : r(undefined)));
    tmp.cleanup();
  });

  it("names the process that did not come up, with its log, and leaves nothing running", async () => {
    blocker = createServer((socket) => socket.destroy()); // holds the port, refuses every peer
    await new Promise<void>((r) => blocker!.listen(0, "127.0.0.1", () => r()));
    const taken = (blocker.address() as { port: number }).port;
    const cfg = presetConfig("grok-1-tiny");
    const file = writeClusterYaml(tmp.dir, { name: "bad-port", stages: [[0, cfg.nLayers]], expertHosts: ["ex"], place: () => ["ex"] }, cfg);
    // give the expert host the port someone else holds
    writeFileSync(file, readFileSync(file, "utf8").replace(/(  - name: ex\n)/, `$1    ports: ${taken}\n`));
    const started: number[] = [];
    const events: LaunchEvent[] = [];
    const err = await launch({ clusterFile: file, runDir: `${tmp.dir}/run`, gateway: false, readyTimeoutMs: 120_000, onEvent: (e) => (events.push(e), e.kind === "starting" && started.push(e.pid)) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    const e = err as StartupError;
    expect(e.process).toBe("ex");
    expect(e.message).toMatch(/process ex \(expert on ex\) cannot bind tcp:\/\/127\.0\.0\.1:\d+: .*; log .*ex\.log/);
    expect(e.logTail).toMatch(/cannot bind tcp:\/\/127\.0\.0\.1:\d+/);
    expect(started).toHaveLength(2);
    expect(started.filter(alive)).toEqual([]);
    expect(events.some((x) => x.kind === "stopping")).toBe(true);
  });

  it("refuses to start over a cluster whose launcher is still running", async () => {
    const cfg = presetConfig("grok-1-tiny");
    const file = writeClusterYaml(tmp.dir, { name: "busy", stages: [[0, cfg.nLayers]], expertHosts: ["ex"], place: () => ["ex"] }, cfg);
    const { cluster, settings } = clusterAndSettings(loadClusterConfig(file));
    const plan = makePlan(cfg, cluster, { dtype: "f32" });
    let port = 40000;
    const runDir = `${tmp.dir}/busy-run`;
    const rt = computeRuntime({ cluster, settings, plan, model: { path: "/m", config: cfg }, runDir, freePort: () => port++ });
    writeRunDir({ ...rt, launcherPid: process.ppid }, plan); // a live process that is not this one
    const started: LaunchEvent[] = [];
    await expect(launch({ clusterFile: file, runDir, onEvent: (e) => started.push(e) })).rejects.toThrow(AlreadyRunningError);
    expect(started).toEqual([]);
  });
});
