/**
 * Hosts with network stacks of their own: two Linux network namespaces made
 * by this test (veth pairs on a bridge, 10.77.N.0/24) run the expert hosts as
 * "remote machines" — `moe up` places them, writes runtime.json and waits for
 * them; the test starts `moe node` inside each namespace, as an operator would
 * on another machine. Generation through the cluster then equals the
 * single-process engine exactly. Needs root (ip netns); skipped otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { launch, stageEndpoints, type RunningCluster } from "../../control/index.js";
import { PipelineClient } from "../../stages/index.js";
import { MODEL_DIR, alive, lockstep, prompts, reference, tempDir } from "./helpers.js";
import { MOE_CLI } from "../moe-cli.js";

const N = 20 + (process.pid % 200); // subnet octet and name suffix, unique per test run
const BR = `moebr${N}`;
const NS = { ea: `moe${N}a`, eb: `moe${N}b` } as const;
const IP = { head: `10.77.${N}.1`, ea: `10.77.${N}.2`, eb: `10.77.${N}.3` } as const;

function sh(...args: string[]): boolean {
  return spawnSync(args[0]!, args.slice(1), { stdio: "ignore" }).status === 0;
}

/** Build the bridge and the two namespaces; false when this machine does not allow it. */
function setUpNetwork(): boolean {
  if (process.platform !== "linux" || process.getuid?.() !== 0 || !existsSync("/usr/sbin/ip")) return false;
  const ok =
    sh("ip", "link", "add", BR, "type", "bridge") &&
    sh("ip", "addr", "add", `${IP.head}/24`, "dev", BR) &&
    sh("ip", "link", "set", BR, "up") &&
    (["ea", "eb"] as const).every((h, i) => {
      const [outer, inner] = [`mv${N}${"ab"[i]}0`, `mv${N}${"ab"[i]}1`];
      return (
        sh("ip", "netns", "add", NS[h]) &&
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner) &&
        sh("ip", "link", "set", inner, "netns", NS[h]) &&
        sh("ip", "link", "set", outer, "master", BR) &&
        sh("ip", "link", "set", outer, "up") &&
        sh("ip", "netns", "exec", NS[h], "ip", "addr", "add", `${IP[h]}/24`, "dev", inner) &&
        sh("ip", "netns", "exec", NS[h], "ip", "link", "set", inner, "up") &&
        sh("ip", "netns", "exec", NS[h], "ip", "link", "set", "lo", "up")
      );
    });
  return ok;
}

function tearDownNetwork(): void {
  for (const ns of Object.values(NS)) sh("ip", "netns", "del", ns);
  sh("ip", "link", "del", BR);
}

const usable = setUpNetwork();
if (!usable) tearDownNetwork();

describe.skipIf(!usable)("cluster across network namespaces (expert hosts as remote machines)", () => {
  const tmp = tempDir("moe-netns-");
  const remote: ChildProcess[] = [];
  let cluster: RunningCluster | undefined;
  let client: PipelineClient | undefined;
  let ref: Awaited<ReturnType<typeof reference>>;

  beforeAll(async () => {
    ref = await reference();
    const cfg = ref.config;
    const file = join(tmp.dir, "netns.yaml");
    const host = (name: string, address: string, roles: string[], ports?: number) => ({ name, device: "cpu-local", address, roles, threads: 1, ...(ports ? { ports } : {}) });
    writeFileSync(
      file,
      stringify({
        name: `netns-${N}`,
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
    const started = launch({ clusterFile: file, runDir, gatewayPort: 0, readyTimeoutMs: 100_000, keepGoing: true, loadIntervalMs: 60_000 });
    // the operator's part: once runtime.json exists, run `moe node` on each "machine"
    const runtimeFile = join(runDir, "runtime.json");
    const end = Date.now() + 60_000;
    while (!existsSync(runtimeFile) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    for (const h of ["ea", "eb"] as const)
      remote.push(spawn("ip", ["netns", "exec", NS[h], process.execPath, ...MOE_CLI, "node", "--runtime", runtimeFile, "--process", h], { stdio: "ignore" }));
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
    tearDownNetwork();
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
