/**
 * Hosts with network stacks of their own: two Linux network namespaces made
 * by this test (veth pairs on a bridge, 10.77.N.0/24) run the expert hosts as
 * "remote machines" — `moe up` places them, writes runtime.json and waits for
 * them; the test starts `moe node` inside each namespace, as an operator would
 * on another machine. Generation through the cluster then equals the
 * single-process engine exactly. Needs root (ip netns); skipped otherwise.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { launch, stageEndpoints, type RunningCluster } from "../../control/index.js";
import { PipelineClient } from "../../stages/index.js";
import { MODEL_DIR, alive, lockstep, prompts, reference, tempDir } from "./helpers.js";
import { MOE_CLI } from "../moe-cli.js";
import { makeNetwork } from "./netns.js";

const net = makeNetwork(process.pid, ["ea", "eb"], { subnet: 77 });
const IP = { head: net.head, ea: net.hosts.ea!.ip, eb: net.hosts.eb!.ip } as const;

describe.skipIf(!net.usable)("cluster across network namespaces (expert hosts as remote machines)", () => {
  const tmp = tempDir("moe-netns-");
  const remote: ChildProcess[] = [];
  let cluster: RunningCluster | undefined;
  let client: PipelineClient | undefined;
  let ref: Awaited<ReturnType<typeof reference>>;

  beforeAll(async () => {
    net.setUp();
    ref = await reference();
    const cfg = ref.config;
    const file = join(tmp.dir, "netns.yaml");
    const host = (name: string, address: string, roles: string[], ports?: number) => ({ name, device: "cpu-local", address, roles, threads: 1, ...(ports ? { ports } : {}) });
    writeFileSync(
      file,
      stringify({
        name: `netns-${process.pid % 250}`,
        model: MODEL_DIR,
        dtype: "f32",
        hosts: [host("head", IP.head, ["stage", "router", "gateway"]), host("ea", IP.ea, ["expert"], 7300), host("eb", IP.eb, ["expert"], 7300)],
        placement: {
          stages: [{ host: "head", layers: [0, cfg.nLayers] }],
          routers: [{ stage: 0, host: "head" }],
          experts: Array.from({ length: cfg.nLayers * cfg.nExperts }, (_, k) => {
            const [layer, expert] = [Math.floor(k / cfg.nExperts), k % cfg.nExperts];
            return { layer, expert, hosts: expert === 0 ? ["ea", "eb"] : [expert < 4 ? "ea" : "eb"] };
          }),
        },
      }),
    );
    const runDir = join(tmp.dir, "run");
    const started = launch({ clusterFile: file, runDir, gatewayPort: 0, warmupPasses: 1, readyTimeoutMs: 100_000, keepGoing: true, loadIntervalMs: 60_000 });
    // the operator's part: once runtime.json exists, run `moe node` on each "machine"
    const runtimeFile = join(runDir, "runtime.json");
    const end = Date.now() + 60_000;
    while (!existsSync(runtimeFile) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    for (const h of ["ea", "eb"] as const)
      remote.push(spawn(net.exec(h)[0]!, [...net.exec(h).slice(1), process.execPath, ...MOE_CLI, "node", "--runtime", runtimeFile, "--process", h], { stdio: "ignore" }));
    cluster = await started;
    const rt = cluster.runtime;
    const stage0 = rt.processes.find((p) => p.name === rt.stages[0])!;
    expect(stage0.endpoint).toBe(`tcp://${IP.head}:${stage0.endpoint.split(":").at(-1)}`);
    expect(rt.processes.filter((p) => !p.local).map((p) => p.endpoint)).toEqual([`tcp://${IP.ea}:7300`, `tcp://${IP.eb}:7300`]);
    client = new PipelineClient({ endpoints: stageEndpoints(rt), vocabSize: cfg.vocabSize });
  });

  afterAll(async () => {
    await client?.close();
    await cluster?.stop("test finished");
    for (const p of remote) p.kill("SIGTERM");
    await Promise.all(remote.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once("exit", r)))));
    await ref?.close();
    net.tearDown();
    tmp.cleanup();
    for (const p of remote) expect(alive(p.pid!)).toBe(false);
  });

  it("generates through expert hosts in other network namespaces, exactly as the single process", async () => {
    const r = await lockstep(client!, ref.backend, prompts(ref.config, [1, 6, 13, 20]), 12, 500);
    expect(r.maxRelError).toBe(0);
    expect(r.tokens).toEqual(r.refTokens);
  });

  it("the gateway on the bridge address answers over HTTP", async () => {
    const res = await fetch(`${cluster!.gatewayUrl}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: [1, 300, 301], max_tokens: 5, temperature: 0 }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(5);
  });
});
