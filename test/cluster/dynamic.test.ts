/**
 * A dynamic cluster across real network boundaries: three hosts, each in a
 * Linux network namespace of its own (links shaped to 1 Gbit/s with htb) with
 * its own empty working directory, join a real nats-server with `moe node
 * --join` through a delaying TCP proxy each (2 ms each way: the link's
 * latency); `moe up` (nats: in the file) waits for them, plans, slices each
 * host's part of the model from the plan and sends each host only its part
 * over NATS, and serves. Generation through the cluster equals the single
 * process exactly. Then a host is SIGKILLed under load: its replicated
 * experts are served by their replicas at once, its other experts are placed
 * again on a survivor, which receives a further part holding just those, the
 * routers switch, and no request fails; `moe status --nats` shows the loss
 * and the new plan. Last, the stage host is SIGKILLed: the
 * planner places the model afresh on the survivor, the gateway switches to
 * the new stages, and the cluster serves again without a restart. The
 * lost host comes back as standby and `moe cluster rebalance` plans over
 * both live hosts again. Last, a host that comes back over a slow link is
 * SIGKILLed while it fetches its part of the rebalanced plan: the
 * coordinator plans around it and the cluster serves on. Needs
 * nats-server; without root (ip netns) the hosts run on loopback, said so.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { clusterStatusSchema, decodeJson, encodeJson, freePorts, moeCommand, readRuntime, scanManifest, stageEndpoints, startNatsServer, subjects, type ClusterStatusMessage, type NatsServerProcess } from "../../control/index.js";
import { planParts } from "../../factory/index.js";
import { layerTensorNames, openModel, PartReader, type ModelConfig } from "../../model/index.js";
import { PipelineClient } from "../../stages/index.js";
import { startDelayProxy, type DelayProxy } from "./delay-proxy.js";
import { NATS_MISSING } from "../control/nats.js";
import { dynamicClusterFile, DYNAMIC_HOSTS as NAMES, joinArgs, completeOnce, startLoad as loadAt } from "../../bench/dynamic-cluster.js";
import { MODEL_DIR, alive, lockstep, prompts, recordFigures, reference, tempDir } from "./helpers.js";
import { makeNetwork } from "./netns.js";

/** Latency added each way on a host's link to NATS (its weights and control messages). */
const LINK_DELAY_MS = 2;
const PARTS = "grok-1-tiny.parts";

/** What a part file (or the parts of a host's directory) holds: whole tensors and `tensor:expert` rows, sorted. */
function holdings(path: string): string[] {
  const m = openModel(path);
  try {
    const r = m.weights as PartReader;
    const out: string[] = [];
    for (const t of r.tensors()) {
      if (t.shape.length === 3) for (let e = 0; e < t.shape[0]!; e++) (r.holds(t.name, e) ? out.push(`${t.name}:${e}`) : undefined);
      else if (r.holds(t.name)) out.push(t.name);
    }
    return out.sort();
  } finally {
    m.close();
  }
}

/** The same for a host under a plan (factory/slice.ts's planParts). */
function planned(plan: Parameters<typeof planParts>[1], host: string, cfg: ModelConfig): string[] {
  const p = planParts(cfg, plan).find((x) => x.host === host)!;
  return [...p.tensors, ...[...p.experts].flatMap(([t, ids]) => ids.map((e) => `${t}:${e}`))].sort();
}
const netns = makeNetwork(process.pid, NAMES, { rate: "1gbit", subnet: 78 });
// where namespaces are not allowed (not root, no `ip`), the same cluster runs on loopback: separate processes and directories, one network stack
const net = netns.usable
  ? netns
  : { head: "127.0.0.1", hosts: Object.fromEntries(NAMES.map((n) => [n, { ns: "", ip: "127.0.0.1" }])) as Record<string, { ns: string; ip: string }>, exec: (): string[] => [], setUp: () => undefined, tearDown: () => undefined };
if (!netns.usable && !NATS_MISSING) console.warn("dynamic.test.ts: network namespaces are not allowed here (needs root and `ip netns`): the three hosts run on loopback instead");

/** A child with its stdout lines. */
interface Proc {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<void>;
}

function run(argv: readonly string[], cwd: string): Proc {
  const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let buf = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split("\n");
    buf = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.resume();
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return { child, lines, exited };
}

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(NATS_MISSING !== undefined)(`dynamic cluster over NATS, hosts in ${netns.usable ? "network namespaces" : "processes on loopback (no namespaces here)"}`, () => {
  const tmp = tempDir("moe-dynamic-");
  const moe = moeCommand();
  const nodes = new Map<string, Proc>();
  let up: Proc | undefined;
  let nats: NatsServerProcess | undefined;
  let nc: NatsConnection | undefined;
  /** Each host's link to NATS: a delaying proxy (the added latency). */
  const links = new Map<string, DelayProxy>();
  const joinUrl = (name: string) => `nats://${net.head}:${links.get(name)!.port}`;
  let ref: Awaited<ReturnType<typeof reference>>;
  /** Lockstep generation through the stages of `rt` against the single-process reference: logits must be equal. */
  async function expectExact(rt: ReturnType<typeof readRuntime>, lengths: number[], steps: number, seqBase: number): Promise<Awaited<ReturnType<typeof lockstep>>> {
    const client = new PipelineClient({ endpoints: stageEndpoints(rt), vocabSize: ref.config.vocabSize });
    try {
      const r = await lockstep(client, ref.backend, prompts(ref.config, lengths), steps, seqBase);
      expect(r.maxRelError).toBe(0);
      return r;
    } finally {
      await client.close();
    }
  }
  let gatewayUrl = "";
  const runDir = join(tmp.dir, "run");

  const status = async (): Promise<ClusterStatusMessage> => decodeJson(clusterStatusSchema, (await nc!.request(subjects().status, encodeJson({}), { timeout: 3000 })).data, "status");

  beforeAll(async () => {
    net.setUp();
    ref = await reference();
    const cfg = ref.config;
    nats = await startNatsServer({ host: net.head, port: (await freePorts(1, net.head))[0]! });
    nc = await connect({ servers: nats.url });
    const file = join(tmp.dir, "dynamic.yaml");
    writeFileSync(file, stringify(dynamicClusterFile({ name: `dyn-${process.pid}`, model: MODEL_DIR, nats: nats.url, config: cfg })));
    // every host: its own namespace, its own empty directory; nothing on disk is shared with the coordinator
    for (const name of NAMES) {
      const target = new URL(nats.url);
      links.set(name, await startDelayProxy({ host: net.head, target: { host: target.hostname, port: Number(target.port) }, delayMs: LINK_DELAY_MS }));
      const argv = [...net.exec(name), moe.command, ...moe.args, ...joinArgs({ nats: joinUrl(name), name, address: net.hosts[name]!.ip, dir: join(tmp.dir, name) })];
      nodes.set(name, run(argv, moe.root));
    }
    up = run([moe.command, ...moe.args, "up", file, "--port", "0", "--host", net.head, "--run-dir", runDir, "--heartbeat-timeout", "3", "--warmup-passes", "1", "--quiet"], moe.root);
    gatewayUrl = await until("the gateway", () => up!.lines.map((l) => /^gateway: (http:\/\/\S+)\/v1/.exec(l)?.[1]).find((u) => u), 240_000);
  });

  afterAll(async () => {
    await nc?.close();
    // Ctrl-C the coordinator: hosts drop their processes and stay joined, idle
    up?.child.kill("SIGTERM");
    await up?.exited;
    for (const name of ["nb", "na-again"]) {
      const n = nodes.get(name);
      if (n && n.child.exitCode === null && n.child.signalCode === null)
        await until(`${name} idle`, () => (n.lines.some((l) => l.includes('"reason":"stop"')) && n.lines.at(-1)?.includes('"state":"idle"') ? true : undefined), 20_000).catch(() => undefined);
    }
    for (const n of nodes.values()) n.child.kill("SIGTERM");
    await Promise.all([...nodes.values()].map((n) => n.exited));
    for (const l of links.values()) await l.close();
    await nats?.stop();
    await ref?.close();
    net.tearDown();
    tmp.cleanup();
    for (const p of [up, ...nodes.values()]) if (p?.child.pid) expect(alive(p.child.pid)).toBe(false);
  });

  it("hosts join, receive only their parts over the network into their own directories, and generate exactly as the single process", async () => {
    const whole = (await scanManifest(MODEL_DIR)).files.reduce((a, f) => a + f.size, 0);
    const plan = JSON.parse(readFileSync(join(runDir, "plan.json"), "utf8")) as Parameters<typeof planParts>[1];
    const figures: Record<string, number> = {};
    for (const name of NAMES) {
      const events = nodes.get(name)!.lines.map((l) => JSON.parse(l) as { kind: string; bytes?: number; seconds?: number; state?: string });
      const fetched = events.filter((e) => e.kind === "fetched");
      // the host's directory: its part for plan 1 and nothing of the whole model
      const dir = join(tmp.dir, name, PARTS);
      expect(readdirSync(dir)).toEqual([`${name}.v1.gguf`]);
      expect(existsSync(join(tmp.dir, name, "grok-1-tiny"))).toBe(false);
      expect(fetched.map((e) => e.bytes)).toEqual([statSync(join(dir, `${name}.v1.gguf`)).size]);
      expect(fetched[0]!.bytes!).toBeLessThan(whole);
      // exactly what the plan gives it: na the attention layers and routers, nb experts 0-3, nc all 8 experts
      expect(holdings(dir)).toEqual(planned(plan, name, ref.config));
      figures[`${name}Bytes`] = fetched[0]!.bytes!;
      figures[`${name}BytesPerSecond`] = fetched[0]!.bytes! / fetched[0]!.seconds!;
      expect(readRuntime(join(tmp.dir, name, "runtime.json")).model.path).toBe(dir);
      expect(events.at(-1)?.state).toBe("ready");
      // the link to NATS carried the part, with its latency
      expect(links.get(name)!.bytes.down).toBeGreaterThan(fetched[0]!.bytes!);
    }
    const probe = await connect({ servers: joinUrl("na") });
    try {
      const t0 = performance.now();
      await probe.flush();
      figures.linkRoundTripMs = performance.now() - t0;
      expect(figures.linkRoundTripMs).toBeGreaterThanOrEqual(2 * LINK_DELAY_MS);
    } finally {
      await probe.close();
    }
    recordFigures("dynamic-weights", { modelBytes: whole, ...figures });
    const rt = readRuntime(runDir);
    expect(rt.dynamic?.version).toBe(1);
    expect(Object.keys(rt.expertHosts).sort()).toEqual(["nb", "nc"]);
    expect(rt.expertHosts.nb).toMatch(new RegExp(`^tcp://${net.hosts.nb!.ip.replace(/\./g, "\\.")}:\\d+$`));
    const r = await expectExact(rt, [1, 5, 11, 17], 10, 700);
    expect(r.tokens).toEqual(r.refTokens);
  });

  let baselineText = "";
  const complete = () => completeOnce(gatewayUrl);
  const startLoad = (n: number) => loadAt(gatewayUrl, n);
  /**
   * Under `clients` looping requests, once `warmup` have completed, SIGKILL host `name` and wait for the plan
   * that serves without it (and the time from the kill to it).
   */
  async function killUnderLoad(name: string, clients: number, warmup: number) {
    const before = await status();
    const load = startLoad(clients);
    await until("requests before the kill", () => (load.results.length >= warmup ? true : undefined), 60_000);
    const killedAt = Date.now();
    nodes.get(name)!.child.kill("SIGKILL");
    const after = await until(
      "the re-plan",
      async () => {
        const s = await status();
        return s.phase === "serving" && s.version > before.version && s.members.find((m) => m.name === name)?.lost ? s : undefined;
      },
      90_000,
    );
    return { ...load, after, killedAt, recoverySeconds: (Date.now() - killedAt) / 1000 };
  }

  it("loses a host to SIGKILL under load: replicas take over, its experts are placed again, no request fails", async () => {
    expect((await status()).phase).toBe("serving");
    const baseline = await complete();
    expect(baseline.ok).toBe(true);
    baselineText = baseline.text;
    const { results, stop, after, killedAt, recoverySeconds } = await killUnderLoad("nc", 3, 3);
    const servedAfter = results.length;
    await until("requests after the re-plan", () => (results.length >= servedAfter + 3 ? true : undefined), 60_000);
    await stop();
    const failed = results.filter((r) => !r.ok);
    expect(failed.map((r) => r.text)).toEqual([]);
    // greedy: every answer is the one before the loss
    expect(new Set(results.map((r) => r.text))).toEqual(new Set([baseline.text]));
    const replan = after.replans.at(-1)!;
    expect(replan.reason).toBe("lost nc");
    recordFigures("dynamic-recovery", {
      recoverySecondsFromKill: recoverySeconds,
      replanSecondsFromDetection: replan.seconds,
      requests: results.length,
      failed: failed.length,
      worstLatencyMsDuringLoss: Math.max(...results.filter((r) => r.at >= killedAt).map((r) => r.ms)),
    });
    // the new placement: nc gone, its own experts now on nb (loaded there), replicas thinned
    const rt = readRuntime(runDir);
    expect(Object.keys(rt.expertHosts)).toEqual(["nb"]);
    for (const x of rt.experts) expect(x.hosts).toEqual(["nb"]);
    expect(rt.dynamic?.version).toBe(after.version);
    const nb = after.members.find((m) => m.name === "nb")!;
    expect(nb.state).toBe("ready");
    // still exact on the new placement
    await expectExact(rt, [3, 9], 6, 900);
    // what an operator sees
    const cli = spawnSync(moe.command, [...moe.args, "status", "--nats", nats!.url], { cwd: moe.root, encoding: "utf8" });
    expect(cli.stdout).toMatch(new RegExp(`cluster dyn-${process.pid}: serving, plan ${after.version} `));
    expect(cli.stdout).toMatch(new RegExp(`\\nnc\\s+${net.hosts.nc!.ip.replace(/\./g, "\\.")}\\s+lost \\(no heartbeat for \\d+\\.\\d s\\)`));
    expect(cli.stdout).toMatch(/re-plans:\n {2}plan \d+: lost nc at .*, serving again after \d+\.\d s/);
    expect(cli.status).toBe(0);
    expect(existsSync(join(tmp.dir, "nc", PARTS, "nc.v1.gguf"))).toBe(true);
    // nb received a further part holding just the experts it newly serves (4-7 of every layer), nothing it had
    const v = after.version;
    const nbDir = join(tmp.dir, "nb", PARTS);
    expect(readdirSync(nbDir).sort()).toEqual(["nb.v1.gguf", `nb.v${v}.gguf`]);
    const added = holdings(join(nbDir, `nb.v${v}.gguf`));
    expect(added).toEqual(Array.from({ length: ref.config.nLayers }, (_, l) => [4, 5, 6, 7].flatMap((e) => [layerTensorNames(l).gate, layerTensorNames(l).up, layerTensorNames(l).down].map((t) => `${t}:${e}`))).flat().sort());
    expect(holdings(nbDir)).toEqual(planned(JSON.parse(readFileSync(join(runDir, "plan.json"), "utf8")), "nb", ref.config));
    const nbFetched = nodes.get("nb")!.lines.map((l) => JSON.parse(l) as { kind: string; bytes?: number }).filter((e) => e.kind === "fetched");
    expect(nbFetched.map((e) => e.bytes)).toEqual([statSync(join(nbDir, "nb.v1.gguf")).size, statSync(join(nbDir, `nb.v${v}.gguf`)).size]);
    expect(readFileSync(join(runDir, "plan.json"), "utf8")).not.toContain('"nc"');
  });

  it("loses the stage host: the model is placed afresh on the survivor, the gateway follows the new stages, requests in flight fail clearly, then it serves again", async () => {
    const { results, stop, after, recoverySeconds } = await killUnderLoad("na", 2, 2);
    const n = results.length;
    await until("requests on the new stages", () => (results.slice(n).filter((r) => r.ok).length >= 2 ? true : undefined), 60_000);
    await stop();
    // requests whose sequences lived on the lost stage fail with an error that says why; the others succeed, exactly
    for (const r of results.filter((x) => !x.ok)) expect(r.text).toMatch(/re-planned|lost|connection|stage/i);
    for (const r of results.filter((x) => x.ok)) expect(r.text).toBe(baselineText);
    expect(results.slice(n).every((r) => r.ok)).toBe(true);
    expect(after.replans.at(-1)!.reason).toBe("lost na");
    recordFigures("dynamic-recovery-stage", { errors: [...new Set(results.filter((x) => !x.ok).map((x) => x.text))], recoverySecondsFromKill: recoverySeconds, replanSecondsFromDetection: after.replans.at(-1)!.seconds, failedInFlight: results.filter((x) => !x.ok).length, requests: results.length });
    const rt = readRuntime(runDir);
    expect(rt.processes.filter((p) => !p.local).map((p) => p.host)).toEqual(["nb", "nb"]);
    expect(rt.stages.length).toBe(1);
    await expectExact(rt, [4, 8], 6, 1100);
  });

  it("a host that comes back joins as standby; `moe cluster rebalance` plans afresh over every live host", async () => {
    const name = "na";
    const argv = [...net.exec(name), moe.command, ...moe.args, ...joinArgs({ nats: joinUrl(name), name, address: net.hosts[name]!.ip, dir: join(tmp.dir, name) })];
    nodes.set(`${name}-again`, run(argv, moe.root));
    const joined = await until(
      "na to join again",
      async () => {
        const s = await status();
        const m = s.members.find((x) => x.name === name);
        return m && !m.lost && m.state === "idle" ? s : undefined;
      },
      60_000,
    );
    expect(joined.members.find((m) => m.name === name)!.assigned).toBe(false); // standby until a re-plan uses it
    const cli = spawn(moe.command, [...moe.args, "cluster", "rebalance", "--nats", nats!.url], { cwd: moe.root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    cli.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    expect(await new Promise<number | null>((r) => cli.once("exit", (code) => r(code)))).toBe(0);
    expect(out).toMatch(/^plan \d+ in force after \d+\.\d s over 2 hosts \((na, nb|nb, na)\)/);
    const after = await status();
    expect(after.replans.at(-1)!.reason).toBe("rebalance");
    expect(after.members.filter((m) => m.assigned).map((m) => m.name).sort()).toEqual(["na", "nb"]);
    // na's directory holds exactly its part of the new plan; what it kept from plan 1 was not fetched again
    const plan = JSON.parse(readFileSync(join(runDir, "plan.json"), "utf8")) as Parameters<typeof planParts>[1];
    for (const h of ["na", "nb"]) expect(holdings(join(tmp.dir, h, PARTS))).toEqual(expect.arrayContaining(planned(plan, h, ref.config)));
    const naFiles = readdirSync(join(tmp.dir, name, PARTS));
    const fetchedAgain = nodes.get(`${name}-again`)!.lines.filter((l) => l.includes('"kind":"fetched"')).length;
    expect(fetchedAgain).toBe(naFiles.filter((f) => f !== "na.v1.gguf").length);
    const rt = readRuntime(runDir);
    await expectExact(rt, [2, 6], 6, 1300);
    const res = await complete();
    expect(res).toMatchObject({ ok: true, text: baselineText });
  });
  it("a host SIGKILLed while it fetches its part of a new plan is planned around; the cluster serves on, exactly", async () => {
    // nc comes back with an empty directory over a slow link (300 ms each way), so its download takes seconds
    const target = new URL(nats!.url);
    links.set("nc-slow", await startDelayProxy({ host: net.head, target: { host: target.hostname, port: Number(target.port) }, delayMs: 300 }));
    const dir = join(tmp.dir, "nc-fresh");
    const argv = [...net.exec("nc"), moe.command, ...moe.args, ...joinArgs({ nats: joinUrl("nc-slow"), name: "nc", address: net.hosts.nc!.ip, dir })];
    const nc2 = run(argv, moe.root);
    nodes.set("nc-again", nc2);
    await until("nc to join again", async () => ((await status()).members.find((m) => m.name === "nc" && !m.lost)?.state === "idle" ? true : undefined), 60_000);
    const cli = spawn(moe.command, [...moe.args, "cluster", "rebalance", "--nats", nats!.url], { cwd: moe.root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    cli.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    const cliExit = new Promise<number | null>((r) => cli.once("exit", (code) => r(code)));
    const fetching = await until(
      "nc to be fetching its part",
      async () => {
        const m = (await status()).members.find((x) => x.name === "nc" && !x.lost);
        return m?.state === "fetching" && (m.progress?.bytes ?? 0) > 0 ? m : undefined;
      },
      60_000,
    );
    expect(fetching.progress!.bytes).toBeLessThan(fetching.progress!.total);
    nc2.child.kill("SIGKILL");
    await nc2.exited;
    // the download never finished: what arrived waits in a .partial file for the host's next start
    expect(nc2.lines.some((l) => l.includes('"kind":"fetched"'))).toBe(false);
    expect(readdirSync(join(dir, PARTS)).some((f) => f.endsWith(".partial"))).toBe(true);
    expect(await cliExit).toBe(0);
    expect(out).toMatch(/^plan \d+ in force after \d+\.\d s over 2 hosts \((na, nb|nb, na)\)/);
    const after = await status();
    expect(after.phase).toBe("serving");
    expect(after.members.find((m) => m.name === "nc")!.lost).toBe(true);
    expect(after.members.filter((m) => m.assigned).map((m) => m.name).sort()).toEqual(["na", "nb"]);
    const rt = readRuntime(runDir);
    expect(rt.dynamic?.version).toBe(after.version);
    expect(Object.keys(rt.expertHosts).every((h) => h !== "nc")).toBe(true);
    await expectExact(rt, [5, 3], 6, 1500);
    expect(await complete()).toMatchObject({ ok: true, text: baselineText });
  });
});
