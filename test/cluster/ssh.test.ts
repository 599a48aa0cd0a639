/**
 * Static mode over ssh across real network boundaries: two hosts, each a
 * Linux network namespace running a real sshd (Debian openssh-server) with
 * its own working directory. `moe up` sends each its model files, keys and
 * runtime.json over ssh (resuming a partial upload, checked there),
 * starts its expert process with `ssh … moe node …`, and the cluster
 * generates exactly as the single process; `moe down CLUSTER.yaml` stops
 * every remote process. Needs root (ip netns), sshd and ssh-keygen.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { moeCommand, pushModel, readRuntime, scanManifest, shq, sshArgv, stageEndpoints } from "../../control/index.js";
import type { SshConfig as SshSpec } from "../../config/index.js";
import { formatBytes } from "../../planner/index.js";
import { PipelineClient } from "../../stages/index.js";
import { MODEL_DIR, alive, lockstep, prompts, recordFigures, reference, tempDir } from "./helpers.js";
import { makeNetwork } from "./netns.js";

const SSHD = "/usr/sbin/sshd";
const haveSsh = existsSync(SSHD) && spawnSync("ssh-keygen", ["-?"], { stdio: "ignore" }).error === undefined;
const NAMES = ["sa", "sb"] as const;
const net = haveSsh ? makeNetwork(process.pid, NAMES, { subnet: 79 }) : undefined;
if (!haveSsh) console.warn("sshd or ssh-keygen missing (apt-get install openssh-server): skipping the ssh test");

async function until<T>(what: string, f: () => T | undefined, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!net?.usable)("static cluster over ssh, hosts in network namespaces with sshd", () => {
  const tmp = tempDir("moe-ssh-");
  const moe = moeCommand();
  const sshd: ChildProcess[] = [];
  let up: { child: ChildProcess; lines: string[]; exited: Promise<void> } | undefined;
  let ref: Awaited<ReturnType<typeof reference>>;
  const file = join(tmp.dir, "ssh.yaml");
  const runDir = join(tmp.dir, "run");
  const dirOf = (h: string) => join(tmp.dir, `remote-${h}`);
  const spec = (h: string): SshSpec => ({
    to: `root@${net!.hosts[h]!.ip}`,
    identity: join(tmp.dir, "id"),
    dir: dirOf(h),
    moe: [moe.command, ...moe.args].map(shq).join(" "),
    options: ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR"],
  });

  beforeAll(async () => {
    net!.setUp();
    ref = await reference();
    const cfg = ref.config;
    mkdirSync("/run/sshd", { recursive: true }); // sshd's privilege-separation directory
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(tmp.dir, "hostkey")]);
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(tmp.dir, "id")]);
    writeFileSync(join(tmp.dir, "authorized_keys"), readFileSync(join(tmp.dir, "id.pub")));
    for (const h of NAMES) {
      const conf = join(tmp.dir, `sshd-${h}.conf`);
      writeFileSync(
        conf,
        [`ListenAddress ${net!.hosts[h]!.ip}`, "Port 22", `HostKey ${join(tmp.dir, "hostkey")}`, `AuthorizedKeysFile ${join(tmp.dir, "authorized_keys")}`, "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "PermitRootLogin prohibit-password", `PidFile ${join(tmp.dir, `sshd-${h}.pid`)}`, ""].join("\n"),
      );
      const d = spawn(net!.exec(h)[0]!, [...net!.exec(h).slice(1), SSHD, "-D", "-e", "-f", conf], { stdio: "ignore" });
      sshd.push(d);
    }
    // sshd answers
    for (const h of NAMES) await until(`sshd on ${h}`, () => (spawnSync(sshArgv(spec(h))[0]!, [...sshArgv(spec(h)).slice(1), "true"]).status === 0 ? true : undefined), 20_000);
    const host = (name: string, roles: string[], extra: Record<string, unknown> = {}) => ({ name, device: "cpu-local", roles, threads: 1, ...extra });
    const sshEntry = (h: string) => {
      const s = spec(h);
      return { to: s.to, identity: s.identity, dir: s.dir, moe: s.moe, options: s.options };
    };
    writeFileSync(
      file,
      stringify({
        name: `ssh-${process.pid}`,
        model: MODEL_DIR,
        dtype: "f32",
        hosts: [
          host("head", ["stage", "router", "gateway"], { address: net!.head }),
          host("sa", ["expert"], { ssh: sshEntry("sa"), ports: 7400 }),
          host("sb", ["expert"], { ssh: sshEntry("sb"), ports: 7400 }),
        ],
        placement: {
          stages: [{ host: "head", layers: [0, cfg.nLayers] }],
          routers: [{ stage: 0, host: "head" }],
          experts: Array.from({ length: cfg.nLayers * cfg.nExperts }, (_, k) => {
            const [layer, expert] = [Math.floor(k / cfg.nExperts), k % cfg.nExperts];
            return { layer, expert, hosts: [expert < 4 ? "sa" : "sb"] };
          }),
        },
      }),
    );
  });

  afterAll(async () => {
    up?.child.kill("SIGTERM");
    await up?.exited;
    for (const d of sshd) d.kill("SIGTERM");
    await Promise.all(sshd.map((d) => (d.exitCode !== null || d.signalCode !== null ? undefined : new Promise((r) => d.once("exit", r)))));
    await ref?.close();
    net!.tearDown();
    tmp.cleanup();
    for (const d of sshd) expect(alive(d.pid!)).toBe(false);
  });

  it("moe up sends each host what it lacks over ssh (resuming a partial upload), starts its processes over ssh; output exact; moe down stops them", async () => {
    const m = await scanManifest(MODEL_DIR);
    const total = m.files.reduce((a, f) => a + f.size, 0);
    // a broken earlier upload on sa: the first 10 MB of the weights are there
    mkdirSync(join(dirOf("sa"), "model", m.root), { recursive: true });
    writeFileSync(join(dirOf("sa"), "model", m.root, "model.gguf.partial"), readFileSync(join(MODEL_DIR, "model.gguf")).subarray(0, 10_000_000));
    const t0 = Date.now();
    const child = spawn(moe.command, [...moe.args, "up", file, "--port", "0", "--run-dir", runDir, "--warmup-passes", "1", "--quiet"], { cwd: moe.root, stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    child.stdout!.on("data", (d: Buffer) => lines.push(...d.toString().split("\n")));
    child.stderr!.resume();
    up = { child, lines, exited: new Promise((r) => child.once("exit", () => r())) };
    const url = await until("the gateway", () => lines.map((l) => /^gateway: (http:\/\/\S+)\/v1/.exec(l)?.[1]).find((u) => u), 180_000);
    const sent = (h: string) => lines.map((l) => new RegExp(`sent +${h} +(\\S+ \\S+) over ssh in (\\S+) s`).exec(l)).find((x) => x);
    expect(sent("sa")?.[1]).toBe(formatBytes(total - 10_000_000));
    expect(sent("sb")?.[1]).toBe(formatBytes(total));
    recordFigures("ssh-push", { bytes: 2 * total - 10_000_000, seconds: Math.max(Number(sent("sa")![2]), Number(sent("sb")![2])), startSeconds: (Date.now() - t0) / 1000 });
    for (const h of NAMES) {
      expect((await scanManifest(join(dirOf(h), "model", m.root))).files).toEqual(m.files);
      expect(existsSync(join(dirOf(h), "model", m.root, "model.gguf.partial"))).toBe(false);
    }
    // all there now: nothing would cross the network again
    expect(await pushModel(spec("sa"), "sa", dirOf("sa"), join(MODEL_DIR, ".."), m)).toBe(0);
    const rt = readRuntime(runDir);
    for (const h of NAMES) {
      // each host runs from its own directory: its runtime points at its own copy of the model
      const remote = readRuntime(join(dirOf(h), "runtime.json"));
      expect(remote.model.path).toBe("model/grok-1-tiny");
      expect(rt.expertHosts[h]).toBe(`tcp://${net!.hosts[h]!.ip}:7400`);
    }
    const pids = NAMES.map((h) => Number(readFileSync(join(dirOf(h), "pids", `${h}.pid`), "utf8")));
    for (const pid of pids) expect(alive(pid)).toBe(true);
    const client = new PipelineClient({ endpoints: stageEndpoints(rt), vocabSize: ref.config.vocabSize });
    try {
      const r = await lockstep(client, ref.backend, prompts(ref.config, [2, 7, 12]), 8, 500);
      expect(r.maxRelError).toBe(0);
      expect(r.tokens).toEqual(r.refTokens);
    } finally {
      await client.close();
    }
    const res = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: [1, 300, 301], max_tokens: 4, temperature: 0 }) });
    expect(res.status).toBe(200);
    // (not spawnSync: this process must keep reaping its child, the launcher)
    const down = spawn(moe.command, [...moe.args, "down", file, "--run-dir", runDir], { cwd: moe.root, stdio: ["ignore", "pipe", "inherit"] });
    let downOut = "";
    down.stdout!.on("data", (d: Buffer) => (downOut += d.toString()));
    const downCode = await new Promise<number | null>((r) => down.once("exit", (code) => r(code)));
    expect(downCode).toBe(0);
    expect(downOut).toMatch(/stopped the launcher \(pid \d+\)/);
    expect(downOut).toMatch(/sa: nothing running\nsb: nothing running/);
    await up.exited;
    for (const pid of pids) await until(`remote pid ${pid} to exit`, () => (alive(pid) ? undefined : true), 15_000);
    for (const h of NAMES) expect(existsSync(join(dirOf(h), "pids", `${h}.pid`))).toBe(false);
  });
});
