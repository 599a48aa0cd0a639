/**
 * One `moe node` child of the launcher: spawned in its own process group
 * with stdin a pipe (the child exits when it closes: the launcher died),
 * stdout read for the one-line JSON readiness message, stderr (its pino log)
 * appended to `logs/<name>.log`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { MoeCommand } from "./entry.js";
import type { WarmupSummary } from "./node-role.js";

/** The line a node prints on stdout once it serves (see cli/node.ts). */
export interface ReadyLine {
  readonly event: "ready";
  readonly process: string;
  readonly pid: number;
  /** Bound data endpoint; the gateway's HTTP URL. */
  readonly endpoint: string;
  readonly control: string;
  /** The gateway's start-up warm-up, when one ran. */
  readonly warmup?: WarmupSummary;
}

/** How a child ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A spawned `moe node`. */
export class NodeChild {
  readonly pid: number;
  /** Resolves with the readiness line; rejects when the child exits or reports an error first. */
  readonly ready: Promise<ReadyLine>;
  /** Resolves when the child has exited (and was reaped). */
  readonly exited: Promise<ChildExit>;
  private exitInfo: ChildExit | undefined;
  private readonly child: ChildProcess;

  constructor(
    readonly name: string,
    cmd: MoeCommand,
    args: readonly string[],
    readonly logPath: string,
    env: NodeJS.ProcessEnv = process.env,
    /** Hears the child's `{"event":"warming","passes":N}` line (the gateway starts its warm-up). */
    onWarming?: (passes: number) => void,
  ) {
    const fd = openSync(logPath, "a");
    try {
      this.child = spawn(cmd.command, [...cmd.args, ...args], { cwd: cmd.root, stdio: ["pipe", "pipe", fd], detached: true, env });
    } finally {
      closeSync(fd);
    }
    this.pid = this.child.pid ?? -1;
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        this.child.stdin?.destroy();
        resolve(this.exitInfo);
      });
      this.child.once("error", () => {
        this.exitInfo ??= { code: -1, signal: null };
        resolve(this.exitInfo);
      });
    });
    this.child.stdin?.on("error", () => undefined); // EPIPE once the child is gone
    const lines = createInterface({ input: this.child.stdout! });
    this.ready = new Promise<ReadyLine>((resolve, reject) => {
      lines.on("line", (line) => {
        let msg: { event?: string; message?: string } | undefined;
        try {
          msg = JSON.parse(line) as { event?: string; message?: string };
        } catch {
          return; // not ours
        }
        if (msg?.event === "ready") resolve(msg as ReadyLine);
        else if (msg?.event === "warming") onWarming?.(Number((msg as { passes?: number }).passes));
        else if (msg?.event === "error") reject(new Error(msg.message ?? "failed"));
      });
      void this.exited.then((e) => reject(new Error(`exited (${describeExit(e)}) before it was ready`)));
    });
    this.ready.catch(() => undefined);
  }

  /** Still running? */
  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  /** How it ended, once it has. */
  get exit(): ChildExit | undefined {
    return this.exitInfo;
  }

  /** Send a signal (ignored once it has exited). */
  kill(signal: NodeJS.Signals): void {
    if (this.alive) {
      try {
        this.child.kill(signal);
      } catch {
        // already gone
      }
    }
  }

  /** The last `lines` lines of its log. */
  logTail(lines = 20): string {
    if (!existsSync(this.logPath)) return "";
    const text = readFileSync(this.logPath, "utf8").trimEnd();
    return text.split("\n").slice(-lines).join("\n");
  }
}

/** "exit code 1" / "signal SIGKILL". */
export function describeExit(e: ChildExit): string {
  return e.signal ? `signal ${e.signal}` : `exit code ${e.code}`;
}
