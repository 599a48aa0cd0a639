/**
 * The `moe` commands of a cluster as real processes: `moe up` on the shipped
 * configs/clusters/local.yaml (gateway included), `moe status`,
 * `moe generate --cluster` against single-process `moe generate` (ids and
 * --logits-out), the gateway's OpenAI API; then the ways a cluster ends:
 * a child dies (everything stops, exit 1), Ctrl-C (clean, exit 0), the
 * launcher is SIGKILLed (the children notice and exit). No process survives.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRuntime } from "../../control/index.js";
import { alive, relMaxError, tempDir } from "./helpers.js";
import { MOE_CLI } from "../moe-cli.js";

const CLI = [...MOE_CLI];
const tmp = tempDir("moe-cli-cluster-");
const spawned: ChildProcess[] = [];

function moe(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `moe up` in the background; resolves once it printed its ready line. */
async function up(runDir: string): Promise<{ proc: ChildProcess; out: () => string; exited: Promise<number | null>; url: string }> {
  const proc = spawn(process.execPath, [...CLI, "up", "configs/clusters/local.yaml", "--port", "0", "--run-dir", runDir, "--warmup-passes", "1", "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
  spawned.push(proc);
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const deadline = Date.now() + 100_000;
  while (!/is ready/.test(out)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`moe up did not come up:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = /gateway: (http:\/\/[0-9.:]+)\/v1/.exec(out)?.[1];
  return { proc, out: () => out, exited, url: url ?? "" };
}

/** pids of the cluster's processes as `moe status --json` reports them. */
function statusPids(runDir: string): Record<string, number> {
  const r = moe("status", "--run-dir", runDir, "--json");
  const j = JSON.parse(r.stdout) as { processes: { name: string; status?: { pid: number } }[] };
  return Object.fromEntries(j.processes.map((p) => [p.name, p.status?.pid ?? -1]));
}

async function waitDead(pids: number[], ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (pids.some(alive) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

afterAll(() => {
  for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  tmp.cleanup();
});

describe("moe up / status / generate --cluster on configs/clusters/local.yaml", () => {
  const runDir = join(tmp.dir, "run-a");
  let cluster: Awaited<ReturnType<typeof up>>;
  let pids: Record<string, number>;

  beforeAll(async () => {
    cluster = await up(runDir);
  });

  it("starts every process, prints the gateway and a curl example", () => {
    expect(cluster.out()).toMatch(/curl http:\/\/127\.0\.0\.1:\d+\/v1\/completions/);
    const rt = readRuntime(runDir);
    expect(rt.processes.map((p) => p.name).sort()).toEqual(["expert0", "expert1", "expert2", "gateway", "stage0", "stage1"]);
    expect(rt.experts.find((x) => x.layer === 0 && x.expert === 0)?.hosts).toEqual(["expert0", "expert1"]);
    expect(JSON.parse(readFileSync(join(runDir, "plan.json"), "utf8")).fits).toBe(true);
  });

  it("moe status pings every process", () => {
    const r = moe("status", "--run-dir", runDir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("6/6 processes up");
    pids = statusPids(runDir);
    expect(Object.values(pids).every((p) => p > 0 && alive(p))).toBe(true);
  });

  it("moe generate --cluster gives the single-process ids and logits", () => {
    const args = ["--prompt-ids", "1,415,1350,934,394,1668", "--max-tokens", "12", "--json"];
    const a = moe("generate", "--run-dir", runDir, ...args, "--logits-out", join(tmp.dir, "cluster.bin"));
    const b = moe("generate", ...args, "--logits-out", join(tmp.dir, "local.bin"));
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toEqual(JSON.parse(b.stdout));
    const la = new Float32Array(readFileSync(join(tmp.dir, "cluster.bin")).buffer.slice(0));
    const lb = new Float32Array(readFileSync(join(tmp.dir, "local.bin")).buffer.slice(0));
    expect(la.length).toBe(2048);
    expect(relMaxError(la, lb)).toBeLessThanOrEqual(1e-5);
  });

  it("the gateway answers an OpenAI completion through the pipeline", async () => {
    const res = await fetch(`${cluster.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "grok-1-tiny", prompt: "The answer to life", max_tokens: 8, temperature: 0 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: { completion_tokens: number }; choices: { text: string }[] };
    expect(body.usage.completion_tokens).toBe(8);
    expect(body.choices[0]!.text.length).toBeGreaterThan(0);
    const health = (await (await fetch(`${cluster.url}/health`)).json()) as { hosts: { name: string; up: boolean }[] };
    expect(health.hosts.map((h) => [h.name, h.up])).toEqual([["stage0", true], ["stage1", true], ["expert0", true], ["expert1", true], ["expert2", true]]);
  });

  it("a dying process stops the whole cluster: moe up exits 1 naming it, nothing is left", async () => {
    process.kill(pids.expert2!, "SIGKILL");
    const code = await cluster.exited;
    expect(code).toBe(1);
    expect(cluster.out()).toMatch(/expert2 died \(signal SIGKILL\)/);
    await waitDead(Object.values(pids), 2000);
    expect(Object.values(pids).filter(alive)).toEqual([]);
    const load = JSON.parse(readFileSync(join(runDir, "expert-load.json"), "utf8")) as { counts: number[][] };
    expect(load.counts).toHaveLength(4);
    expect(load.counts.flat().reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(moe("status", "--run-dir", runDir).code).toBe(1);
  });
});

describe("stopping a cluster", () => {
  it("Ctrl-C stops every process cleanly (exit 0)", async () => {
    const runDir = join(tmp.dir, "run-b");
    const c = await up(runDir);
    const pids = Object.values(statusPids(runDir));
    c.proc.kill("SIGINT");
    expect(await c.exited).toBe(0);
    expect(c.out()).toContain("stopped.");
    expect(pids.filter(alive)).toEqual([]);
    for (const name of ["stage0", "expert0", "gateway"]) expect(readFileSync(join(runDir, "logs", `${name}.log`), "utf8")).toMatch(/"msg":"closed"/);
  });

  it("when the launcher is SIGKILLed its children exit by themselves", async () => {
    const runDir = join(tmp.dir, "run-c");
    const c = await up(runDir);
    const pids = Object.values(statusPids(runDir));
    c.proc.kill("SIGKILL");
    await c.exited;
    await waitDead(pids, 5000);
    expect(pids.filter(alive)).toEqual([]);
  });
});
