/**
 * The command line of `moe` child processes (control/entry.ts): it carries the V8 flags of serving
 * processes (NODE_FLAGS), and this Node.js accepts them — a flag it does not know makes `node` exit with
 * "bad option" before the CLI runs.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { NODE_FLAGS, moeCommand } from "../../control/index.js";

describe("moeCommand", () => {
  it("starts the moe CLI with NODE_FLAGS (--no-memory-reducer), which this Node.js accepts", () => {
    const { command, args } = moeCommand();
    expect(NODE_FLAGS).toContain("--no-memory-reducer");
    for (const f of NODE_FLAGS) expect(args).toContain(f);
    const r = spawnSync(command, [...args, "--version"], { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).not.toMatch(/bad option/);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
