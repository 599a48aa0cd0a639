/**
 * The launcher's part for hosts with `ssh:`: before their processes start,
 * send each such host its working directory's contents (model files it
 * lacks, keys, its runtime.json) over ssh; then start and stop its
 * processes through ssh (see ssh.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { RuntimeConfig, SshConfig } from "../config/index.js";
import type { MoeCommand } from "./entry.js";
import type { Runtime } from "./runtime.js";
import { pushKeys, pushModel, remoteDir, remoteNodeCommand, remoteRuntime, remoteStop, closeMaster, multiplexed, shq, sshArgv, sshRun, type PushProgress } from "./ssh.js";
import { ChecksumCache, scanManifest, type WeightManifest } from "./weights.js";
import { hostModelPath } from "./parts.js";

/** How the launcher reaches one ssh host. */
export interface SshHost {
  readonly spec: SshConfig;
  /** Its working directory there. */
  readonly dir: string;
}

/** What preparing the ssh hosts reports. */
export type SshEvent =
  | { readonly kind: "pushing"; readonly progress: PushProgress }
  | { readonly kind: "pushed"; readonly host: string; readonly bytes: number; readonly seconds: number };

/** Hosts of the cluster file's runtime slice with `ssh:` that run processes of `rt`. */
export function sshHosts(settings: RuntimeConfig, rt: Runtime): Map<string, SshHost> {
  const used = new Set(rt.processes.map((p) => p.host));
  return new Map(settings.hosts.filter((h) => h.ssh && used.has(h.name)).map((h) => [h.name, { spec: h.ssh!, dir: remoteDir(h.ssh!, rt.cluster) }]));
}

/**
 * Send every ssh host its model files, keys and runtime.json (hosts in parallel). With per-host parts
 * (`moe up --parts`) a host gets only its own part. The commands to one host share one ssh connection
 * (a ControlMaster closed at the end): a connection's handshake can take seconds.
 */
export async function prepareSshHosts(hosts: ReadonlyMap<string, SshHost>, rt: Runtime, onEvent?: (e: SshEvent) => void): Promise<void> {
  if (hosts.size === 0) return;
  const cache = new ChecksumCache(join(rt.runDir, "checksums.json"));
  const sources = new Map<string, { path: string; manifest: WeightManifest }>();
  for (const host of hosts.keys()) {
    const path = hostModelPath(rt, host);
    sources.set(host, { path, manifest: await scanManifest(path, cache) });
  }
  // a short directory: unix socket paths are limited to ~100 bytes
  const sockets = mkdtempSync(join(tmpdir(), "moe-ssh-"));
  try {
    await Promise.all([...hosts].map(([host, h], i) => prepareOne(host, { ...h, spec: multiplexed(h.spec, join(sockets, String(i))) }, rt, sources.get(host)!, onEvent)));
  } finally {
    [...hosts].forEach(([, h], i) => closeMaster(multiplexed(h.spec, join(sockets, String(i)))));
    rmSync(sockets, { recursive: true, force: true });
  }
}

async function prepareOne(host: string, h: SshHost, rt: Runtime, source: { path: string; manifest: WeightManifest }, onEvent?: (e: SshEvent) => void): Promise<void> {
  const t0 = performance.now();
  const bytes = await pushModel(h.spec, host, h.dir, dirname(source.path), source.manifest, (progress) => onEvent?.({ kind: "pushing", progress }));
  if (rt.curve) await pushKeys(h.spec, host, h.dir, rt.curve.keysDir);
  await sshRun(h.spec, host, `mkdir -p ${shq(h.dir)} && cat > ${shq(h.dir)}/runtime.json`, new TextEncoder().encode(JSON.stringify(remoteRuntime(rt, h.dir, source.manifest, host), null, 2) + "\n"));
  onEvent?.({ kind: "pushed", host, bytes, seconds: (performance.now() - t0) / 1000 });
}

/** The command line (`ssh … 'cd DIR && exec moe node …'`) that runs process `name` on its ssh host. */
export function sshNodeCommand(h: SshHost, name: string): { cmd: MoeCommand; args: string[] } {
  const argv = sshArgv(h.spec);
  return { cmd: { command: argv[0]!, args: argv.slice(1), root: process.cwd() }, args: [remoteNodeCommand(h.spec, h.dir, name)] };
}

/** Ask the host to stop the processes named (SIGTERM through their pid files); never throws. */
export async function stopOnSshHost(host: string, h: SshHost, names?: readonly string[]): Promise<string> {
  try {
    return await remoteStop(h.spec, host, h.dir, names);
  } catch (e) {
    return `could not reach ${host}: ${(e as Error).message}`;
  }
}
