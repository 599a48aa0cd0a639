/**
 * `npm run bench -- dynamic [--threads 1,2] [--heartbeat-timeout 3] [--skip-recovery] [--skip-transfer]`:
 * the network side of multi-machine clusters, on this machine (loopback),
 * measured side by side in one run:
 *
 * - weight transfer throughput: the model's files fetched over NATS
 *   (chunked request/reply through a local nats-server, as `moe node --join`
 *   does) for several chunk sizes and windows, one host and three at once,
 *   against a plain TCP copy of the same bytes (the ceiling) and — when this
 *   runs as root with sshd installed — the ssh upload of static mode;
 * - recovery after a host's loss: a dynamic cluster of three `moe node --join`
 *   processes under HTTP load; a host holding experts (some replicated, some
 *   not) is SIGKILLed, then the stage host: seconds to detection, to the new
 *   plan in force, failed requests, and the weights the new plan sent (the
 *   further part a survivor newly needs); and each host's part of the first
 *   plan (sliced on the coordinator; never the whole model).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createReadStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { connect } from "nats";
import { pino } from "pino";
import { stringify } from "yaml";
import { ChecksumCache, closeMaster, fetchFiles, freePorts, launchDynamic, moeCommand, multiplexed, natsServerBinary, pushModel, scanManifest, startNatsServer, WeightServer, type CoordinatorEvent, type WeightManifest } from "../control/index.js";
import { ensureTinyModel } from "../factory/index.js";
import { openModel } from "../model/index.js";
import { DYNAMIC_HOSTS, dynamicClusterFile, joinArgs, startLoad } from "./dynamic-cluster.js";
import { arg } from "./args.js";

/** Bytes of a model directory's files (or of a model file). */
function modelBytes(model: string): number {
  const st = statSync(model);
  return st.isFile() ? st.size : readdirSync(model).reduce((a, f) => a + statSync(join(model, f)).size, 0);
}

const MB = 1e6;
const fmt = (bps: number) => `${(bps / MB).toFixed(1)} MB/s`;

/** Seconds to copy `m`'s files over one loopback TCP connection (read from disk, like the other paths). */
async function tcpCopy(base: string, m: WeightManifest): Promise<number> {
  const server = createServer((s) => {
    let i = 0;
    const next = (): void => {
      const f = m.files[i++];
      if (!f) return void s.end();
      const r = createReadStream(join(base, m.root, f.path), { highWaterMark: 1 << 20 });
      r.pipe(s, { end: false });
      r.on("end", next);
    };
    next();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const c = tcpConnect((server.address() as { port: number }).port, "127.0.0.1");
    c.on("data", () => undefined);
    c.on("end", resolve);
  });
  const s = (performance.now() - t0) / 1000;
  server.close();
  return s;
}

async function transfer(model: string, work: string): Promise<void> {
  const m = await scanManifest(model);
  const bytes = m.files.reduce((a, f) => a + f.size, 0);
  console.log(`model: ${model} (${(bytes / MB).toFixed(1)} MB in ${m.files.length} files)`);
  const [port] = await freePorts(1);
  const nats = await startNatsServer({ host: "127.0.0.1", port: port! });
  const sc = await connect({ servers: nats.url });
  const server = new WeightServer(sc, "bench.weights");
  server.add(dirname(model), m);
  const rows: [string, string, string][] = [];
  try {
    const tcp = await tcpCopy(dirname(model), m);
    rows.push(["TCP copy, 1 connection (ceiling)", fmt(bytes / tcp), "1.00"]);
    let n = 0;
    const fetchOnce = async (chunk: number, window: number): Promise<number> => {
      const c = await connect({ servers: nats.url });
      try {
        const r = await fetchFiles(c, join(work, `f${n++}`), m, m.files, { subject: "bench.weights", cache: new ChecksumCache(undefined), chunkBytes: chunk, window });
        return r.seconds;
      } finally {
        await c.close();
      }
    };
    for (const [chunk, window] of [[128 * 1024, 4], [256 * 1024, 4], [256 * 1024, 8], [512 * 1024, 4], [512 * 1024, 8]] as const) {
      const s = await fetchOnce(chunk, window);
      rows.push([`NATS, ${chunk / 1024} KiB chunks × ${window} in flight, 1 host`, fmt(bytes / s), (tcp / s).toFixed(2)]);
    }
    // three hosts at once, each a process of its own (as three `moe node --join` are), started together once ready
    const kids = [0, 1, 2].map((i) => fetchInChild(nats.url, model, join(work, `p${i}`)));
    await Promise.all(kids.map((k) => k.ready));
    const t0 = performance.now();
    kids.forEach((k) => k.go());
    await Promise.all(kids.map((k) => k.done));
    const s3 = (performance.now() - t0) / 1000;
    rows.push(["NATS, 512 KiB × 8, 3 hosts at once (aggregate)", fmt((3 * bytes) / s3), (tcp / (s3 / 3)).toFixed(2)]);
    const ssh = await sshUpload(dirname(model), m, work);
    if (ssh !== undefined) rows.push(["ssh upload (static mode), 1 host", fmt(bytes / ssh), (tcp / ssh).toFixed(2)]);
    else rows.push(["ssh upload (static mode)", "skipped (needs root and sshd)", "-"]);
  } finally {
    await server.close();
    await sc.close();
    await nats.stop();
  }
  console.log("\nweight transfer (the whole file set, checksums verified at the end):");
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`  ${"path".padEnd(w)}  ${"throughput".padEnd(14)}  ÷ TCP`);
  for (const r of rows) console.log(`  ${r[0].padEnd(w)}  ${r[1].padEnd(14)}  ${r[2]}`);
}

/** A child process that fetches the model's files when told to (the coordinator side stays in this one). */
function fetchInChild(url: string, model: string, dest: string): { ready: Promise<void>; go(): void; done: Promise<void> } {
  const control = new URL("../control/index.js", import.meta.url).href;
  const code = `
    import { connect } from "nats";
    import { createInterface } from "node:readline";
    import { ChecksumCache, fetchFiles, scanManifest } from ${JSON.stringify(control)};
    const m = await scanManifest(${JSON.stringify(model)});
    const c = await connect({ servers: ${JSON.stringify(url)} });
    console.log("ready");
    await new Promise((r) => createInterface({ input: process.stdin }).once("line", r));
    await fetchFiles(c, ${JSON.stringify(dest)}, m, m.files, { subject: "bench.weights", cache: new ChecksumCache(undefined), chunkBytes: 512 * 1024, window: 8 });
    await c.close();
    process.exit(0);`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: moeCommand().root, stdio: ["pipe", "pipe", "inherit"] });
  const ready = new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
  const done = new Promise<void>((resolve, reject) => child.once("exit", (rc) => (rc === 0 ? resolve() : reject(new Error(`fetch child exited ${rc}`)))));
  return { ready, go: () => child.stdin!.write("go\n"), done };
}

/** Seconds of pushModel to a loopback sshd this bench starts (root only), or undefined. */
async function sshUpload(base: string, m: WeightManifest, work: string): Promise<number | undefined> {
  if (process.getuid?.() !== 0 || spawnSync("/usr/sbin/sshd", ["-?"]).error) return undefined;
  const d = join(work, "ssh");
  mkdirSync(d, { recursive: true });
  mkdirSync("/run/sshd", { recursive: true });
  for (const k of ["hostkey", "id"]) spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(d, k)]);
  writeFileSync(join(d, "ak"), readFileSync(join(d, "id.pub")));
  const [port] = await freePorts(1);
  writeFileSync(join(d, "conf"), [`ListenAddress 127.0.0.1`, `Port ${port}`, `HostKey ${join(d, "hostkey")}`, `AuthorizedKeysFile ${join(d, "ak")}`, "PasswordAuthentication no", "UsePAM no", "StrictModes no", "PermitRootLogin prohibit-password", `PidFile ${join(d, "pid")}`, ""].join("\n"));
  const sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(d, "conf")], { stdio: "ignore" });
  try {
    const spec = { to: "root@127.0.0.1", port, identity: join(d, "id"), dir: join(d, "remote"), options: ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR"] };
    for (let i = 0; i < 50 && spawnSync("ssh", ["-o", "BatchMode=yes", "-p", String(port), "-i", spec.identity, ...spec.options.flatMap((o) => ["-o", o]), spec.to, "true"]).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    // as `moe up` does it: one multiplexed connection for the host's commands
    const mux = multiplexed(spec, join(d, "mux"));
    const t0 = performance.now();
    await pushModel(mux, "bench", spec.dir, base, m);
    const s = (performance.now() - t0) / 1000;
    closeMaster(mux);
    return s;
  } finally {
    sshd.kill("SIGTERM");
    await new Promise((r) => sshd.once("exit", r));
  }
}

interface Outcome {
  detect: number;
  replan: number;
  total: number;
  failed: number;
  requests: number;
  /** Bytes each host fetched for the new plan (its further part), and how fast. */
  fetched: { host: string; bytes: number; seconds: number }[];
}

/** A host's `moe node --json` events ("fetched": bytes and seconds of one plan's weights). */
interface NodeProc {
  readonly child: ChildProcess;
  readonly fetched: { bytes: number; seconds: number; at: number }[];
}

/** One dynamic cluster on loopback; returns each host's initial part and the expert-host and stage-host losses. */
async function recovery(model: string, work: string, threads: number, hbTimeout: number): Promise<{ initial: Outcome["fetched"]; losses: [Outcome, Outcome] }> {
  const cfg = openModel(model).config;
  const [port] = await freePorts(1);
  const nats = await startNatsServer({ host: "127.0.0.1", port: port! });
  const moe = moeCommand();
  const dir = mkdtempSync(join(work, "rec-"));
  const file = join(dir, "bench.yaml");
  writeFileSync(file, stringify(dynamicClusterFile({ name: "bench-dynamic", model, nats: nats.url, config: cfg, threads })));
  const nodes = new Map<string, NodeProc>();
  for (const n of DYNAMIC_HOSTS) {
    const child = spawn(moe.command, [...moe.args, ...joinArgs({ nats: nats.url, name: n, address: "127.0.0.1", dir: join(dir, n), threads })], { cwd: moe.root, stdio: ["ignore", "pipe", "ignore"] });
    const p: NodeProc = { child, fetched: [] };
    createInterface({ input: child.stdout! }).on("line", (l) => {
      try {
        const e = JSON.parse(l) as { kind: string; bytes?: number; seconds?: number };
        if (e.kind === "fetched") p.fetched.push({ bytes: e.bytes!, seconds: e.seconds!, at: Date.now() });
      } catch {
        // not an event
      }
    });
    nodes.set(n, p);
  }
  const events: { at: number; e: CoordinatorEvent }[] = [];
  const coordinator = await launchDynamic({ clusterFile: file, runDir: join(dir, "run"), gatewayPort: 0, heartbeatTimeoutMs: hbTimeout * 1000, logger: pino({ level: "silent" }), onEvent: (e) => events.push({ at: Date.now(), e }) });
  const url = coordinator.gatewayUrl!;
  const initial = [...nodes].map(([host, p]) => ({ host, bytes: p.fetched[0]?.bytes ?? 0, seconds: p.fetched[0]?.seconds ?? 0 }));
  const lose = async (name: string): Promise<Outcome> => {
    const load = startLoad(url, 2);
    const { results } = load;
    while (results.length < 4) await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    nodes.get(name)!.child.kill("SIGKILL");
    const find = (k: CoordinatorEvent["kind"]) => events.find((x) => x.at >= t0 && x.e.kind === k && (k !== "lost" || (x.e as { host: string }).host === name));
    while (!find("recovered")) await new Promise((r) => setTimeout(r, 50));
    const lost = find("lost")!;
    const rec = find("recovered")!;
    const n = results.length;
    while (results.slice(n).filter((r) => r.ok).length < 2) await new Promise((r) => setTimeout(r, 50));
    await load.stop();
    const fetched = [...nodes].flatMap(([host, p]) => p.fetched.filter((f) => f.at >= t0 && f.at <= rec.at).map((f) => ({ host, bytes: f.bytes, seconds: f.seconds })));
    return { detect: (lost.at - t0) / 1000, replan: (rec.e as { seconds: number }).seconds, total: (rec.at - t0) / 1000, failed: results.filter((r) => !r.ok).length, requests: results.length, fetched };
  };
  try {
    const expertLoss = await lose("nc");
    const stageLoss = await lose("na");
    return { initial, losses: [expertLoss, stageLoss] };
  } finally {
    await coordinator.stop("bench done");
    for (const c of nodes.values()) c.child.kill("SIGTERM");
    await Promise.all([...nodes.values()].map(({ child: c }) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once("exit", r)))));
    await nats.stop();
  }
}

const parts = (f: Outcome["fetched"]) => (f.length ? f.map((x) => `${x.host} ${(x.bytes / MB).toFixed(1)} MB in ${x.seconds.toFixed(2)} s`).join(", ") : "nothing");

export async function run(args: string[]): Promise<void> {
  if (!natsServerBinary()) throw new Error("nats-server is not installed (apt-get install nats-server)");
  const model = ensureTinyModel();
  const work = mkdtempSync(join(tmpdir(), "moe-bench-dynamic-"));
  try {
    if (!args.includes("--skip-transfer")) await transfer(model, work);
    if (args.includes("--skip-recovery")) return;
    const hb = Number(arg(args, "--heartbeat-timeout", "3"));
    console.log(`\nrecovery after a host's loss (3 hosts on loopback, heartbeat every 0.5 s, lost after ${hb} s of silence;`);
    console.log("2 clients send greedy completions back to back and retry a failed one after 0.2 s; times from the SIGKILL):");
    console.log(`  ${"threads".padEnd(8)}${"host lost".padEnd(44)}${"detected".padEnd(10)}${"re-planned".padEnd(12)}${"serving".padEnd(10)}${"failed/sent".padEnd(13)}weights sent for the new plan`);
    const initial: string[] = [];
    for (const t of arg(args, "--threads", "1,2").split(",").map(Number)) {
      const r = await recovery(model, work, t, hb);
      initial.push(`  threads ${t}: ${parts(r.initial)}`);
      for (const [what, o] of [["nc (experts; 4 of 8 per layer replicated)", r.losses[0]], ["na (the stage host; placed afresh)", r.losses[1]]] as const)
        console.log(`  ${String(t).padEnd(8)}${what.padEnd(44)}${`${o.detect.toFixed(1)} s`.padEnd(10)}${`+${o.replan.toFixed(1)} s`.padEnd(12)}${`${o.total.toFixed(1)} s`.padEnd(10)}${`${o.failed}/${o.requests}`.padEnd(13)}${parts(o.fetched)}`);
    }
    console.log(`\neach host's part of the first plan, sliced on the coordinator and fetched over NATS (the whole model: ${(modelBytes(model) / MB).toFixed(1)} MB):`);
    for (const l of initial) console.log(l);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

