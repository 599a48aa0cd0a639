/**
 * Hosts started over ssh (static mode, `ssh:` in the cluster file). Before
 * `moe up` starts a host's processes it puts everything they need in the
 * host's working directory through the ssh channel — nothing assumes a
 * filesystem shared with the launcher: the model's files that are missing
 * or differ (checked with `sha256sum` there; a broken upload resumes from
 * its `.partial` file), the CURVE keys (mode 600), and a runtime.json whose
 * paths point into that directory. Each process then runs as
 * `ssh HOST 'cd DIR && exec MOE node --runtime runtime.json --process NAME --stdin-watch --pid-file pids/NAME.pid'`:
 * its stdout (the readiness line) and stderr come back over ssh, and it
 * exits when the ssh session ends (stdin closes) or on `moe down`, which
 * signals the pids recorded there. The host needs sshd, a POSIX shell,
 * coreutils and the `moe` command (`ssh.moe:` when not on PATH).
 */
import { spawn, spawnSync } from "node:child_process";
import { createReadStream, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { SshConfig as SshSpec } from "../config/index.js";
import { KEY_FILES } from "../transport/index.js";
import { ControlError } from "./errors.js";
import type { Runtime } from "./runtime.js";
import { manifestFilePath, type WeightManifest } from "./weights.js";

/** An ssh command that failed. */
export class SshError extends ControlError {
  constructor(message: string, ctx: { host?: string; fix?: string; cause?: unknown } = {}) {
    super("SSH", message, ctx);
  }
}

/** Quote for a POSIX shell. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `ssh` and its arguments up to the destination (the remote command follows). */
export function sshArgv(spec: SshSpec): string[] {
  return [
    "ssh",
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=10",
    "-o", "ServerAliveInterval=5",
    "-o", "ServerAliveCountMax=3",
    ...(spec.port !== undefined ? ["-p", String(spec.port)] : []),
    ...(spec.identity !== undefined ? ["-i", spec.identity] : []),
    ...(spec.options ?? []).flatMap((o) => ["-o", o]),
    spec.to,
  ];
}

/** The spec with its connections multiplexed over one master connection at `socket` (a handshake can take seconds). */
export function multiplexed(spec: SshSpec, socket: string): SshSpec {
  return { ...spec, options: [...(spec.options ?? []), "ControlMaster=auto", `ControlPath=${socket}`, "ControlPersist=60"] };
}

/** Close the master connection of a {@link multiplexed} spec (no-op when there is none). */
export function closeMaster(spec: SshSpec): void {
  const argv = sshArgv(spec);
  spawnSync(argv[0]!, [...argv.slice(1, -1), "-O", "exit", argv.at(-1)!], { stdio: "ignore", timeout: 10_000 });
}

/** The host's working directory (relative paths are under the login directory). */
export function remoteDir(spec: SshSpec, cluster: string): string {
  return spec.dir ?? `.moe/remote/${cluster}`;
}

/**
 * Run `command` on the host (through its login shell), feeding `input` (bytes, or a file range) on stdin.
 * @throws SshError with the remote stderr when it exits non-zero
 */
export function sshRun(spec: SshSpec, host: string, command: string, input?: Uint8Array | { file: string; start: number; onBytes?: (n: number) => void }): Promise<string> {
  const argv = [...sshArgv(spec), command];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.stdin.on("error", () => undefined); // the remote command may exit before reading everything: its exit code says
    child.once("error", (e) => reject(new SshError(`${host}: cannot run ssh: ${e.message}`, { host, fix: "install an ssh client", cause: e })));
    child.once("exit", (code) => {
      if (code === 0) resolve(out);
      else
        reject(
          new SshError(`${host} (${spec.to}): \`${command.length > 120 ? `${command.slice(0, 120)}…` : command}\` failed (exit ${code}): ${err.trim().split("\n").slice(-3).join(" | ")}`, {
            host,
            fix: code === 255 ? "check that `ssh` reaches the host without a password (BatchMode: a key in ssh.identity or the agent)" : undefined,
          }),
        );
    });
    if (input instanceof Uint8Array) child.stdin.end(input);
    else if (input) {
      const stream = createReadStream(input.file, { start: input.start, highWaterMark: 1 << 20 });
      stream.on("data", (b) => input.onBytes?.((b as Buffer).length));
      stream.pipe(child.stdin);
    } else child.stdin.end();
  });
}

/** Upload progress of one host. */
export interface PushProgress {
  readonly host: string;
  readonly file: string;
  /** Bytes on the host so far (resumed ones included) / in all files to send. */
  readonly bytes: number;
  readonly total: number;
}

/**
 * Make `<dir>/model/<root>` on the host hold the manifest's files: those missing or with another SHA-256
 * are sent (resuming `.partial` uploads) and checked there. @returns bytes sent over the network
 */
export async function pushModel(spec: SshSpec, host: string, dir: string, localBase: string, m: WeightManifest, onProgress?: (p: PushProgress) => void): Promise<number> {
  const rel = (f: WeightManifest["files"][number]) => (m.kind === "file" ? `model/${m.root}` : `model/${m.root}/${f.path}`);
  const q = (f: WeightManifest["files"][number]) => shq(rel(f));
  // one round trip: each file's checksum, or the size of its partial upload
  const probe = m.files.map((f) => `if [ -f ${q(f)} ]; then printf 'sum %s\\n' "$(sha256sum < ${q(f)} | cut -c1-64)"; elif [ -f ${q(f)}.partial ]; then printf 'part %s\\n' "$(wc -c < ${q(f)}.partial)"; else echo none; fi`);
  const out = (await sshRun(spec, host, `mkdir -p ${shq(dir)} && cd ${shq(dir)} && ${probe.join("; ")}`)).trim().split("\n");
  const todo = m.files.map((f, i) => ({ f, state: out[i]?.trim() ?? "none" })).filter(({ f, state }) => state !== `sum ${f.sha256}`);
  const total = todo.reduce((a, t) => a + t.f.size, 0);
  let done = 0;
  let sent = 0;
  for (const { f, state } of todo) {
    const start = state.startsWith("part ") ? Math.min(Number(state.slice(5)) || 0, f.size) : 0;
    const target = rel(f);
    const dirOf = target.slice(0, target.lastIndexOf("/"));
    let at = done + start;
    onProgress?.({ host, file: target, bytes: at, total });
    // one session per file: append from where a broken upload stopped, then check it there before it takes its
    // name; a bad copy is removed, so the next `moe up` sends it afresh
    const write = start ? `truncate -s ${start} ${q(f)}.partial && cat >> ${q(f)}.partial` : `cat > ${q(f)}.partial`;
    const check = `if [ "$(sha256sum < ${q(f)}.partial | cut -c1-64)" = ${f.sha256} ]; then mv ${q(f)}.partial ${q(f)}; else rm -f ${q(f)}.partial; echo "${target}: checksum mismatch after upload" >&2; exit 3; fi`;
    await sshRun(spec, host, `cd ${shq(dir)} && mkdir -p ${shq(dirOf)} && ${write} && ${check}`, {
      file: manifestFilePath(localBase, m, f),
      start,
      onBytes: (n) => {
        at += n;
        sent += n;
        onProgress?.({ host, file: target, bytes: at, total });
      },
    });
    done += f.size;
  }
  return sent;
}

/** Copy the CURVE key files to `<dir>/keys` (mode 600). */
export async function pushKeys(spec: SshSpec, host: string, dir: string, keysDir: string): Promise<void> {
  for (const k of KEY_FILES) {
    const p = join(keysDir, k);
    if (!existsSync(p)) continue;
    await sshRun(spec, host, `umask 077 && mkdir -p ${shq(dir)}/keys && cat > ${shq(dir)}/keys/${k}`, readFileSync(p));
  }
}

/** The runtime as the host runs it: model, keys and run directory inside its working directory. */
export function remoteRuntime(rt: Runtime, dir: string, m: WeightManifest, host?: string): Runtime {
  const path = `model/${m.root}`;
  // with parts, the host holds only its own: its processes open it, the other hosts' paths mean nothing there
  const parts = rt.model.parts && host !== undefined ? { parts: { [host]: path } } : {};
  return { ...rt, runDir: dir, model: { ...rt.model, path, parts: undefined, ...parts }, curve: rt.curve ? { keysDir: "keys" } : null };
}

/** The remote command that runs process `name` from `<dir>/runtime.json`. */
export function remoteNodeCommand(spec: SshSpec, dir: string, name: string): string {
  const moe = spec.moe ?? "moe";
  return `cd ${shq(dir)} && mkdir -p pids && exec ${moe} node --runtime runtime.json --process ${shq(name)} --stdin-watch --pid-file pids/${shq(name)}.pid`;
}

/** SIGTERM every process recorded under `<dir>/pids` (all, or those named). @returns what the host printed */
export function remoteStop(spec: SshSpec, host: string, dir: string, names?: readonly string[]): Promise<string> {
  const files = names ? names.map((n) => `pids/${shq(n)}.pid`).join(" ") : "pids/*.pid";
  return sshRun(spec, host, `cd ${shq(dir)} 2>/dev/null || exit 0; for f in ${files}; do [ -f "$f" ] || continue; p=$(cat "$f"); if kill -TERM "$p" 2>/dev/null; then echo "stopped $f (pid $p)"; fi; rm -f "$f"; done`);
}
