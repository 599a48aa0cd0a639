/**
 * Fork one of the bench's child scripts (bench/echo-child, bench/trace-child)
 * with the same code as this process: the .ts source through tsx when running
 * from sources (tests), the built .js otherwise.
 */
import { fork, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Start `bench/<name>` as a child `node` process with an IPC channel (stdout ignored, stderr inherited). */
export function forkBenchChild(name: "echo-child" | "trace-child" | "llama-child", args: readonly string[] = []): ChildProcess {
  const fromSource = fileURLToPath(import.meta.url).endsWith(".ts");
  const file = fileURLToPath(new URL(`./${name}.${fromSource ? "ts" : "js"}`, import.meta.url));
  const execArgv = fromSource ? ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href] : [];
  return fork(file, [...args], { execArgv, stdio: ["ignore", "ignore", "inherit", "ipc"] });
}

/** The child's first IPC message; rejects if it exits first. */
export async function firstMessage<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) => reject(new Error(`${what} exited (${signal ?? `code ${code}`}) before it was ready`));
    child.once("exit", onExit);
    child.once("message", (m) => {
      child.off("exit", onExit);
      resolve(m as T);
    });
  });
}
