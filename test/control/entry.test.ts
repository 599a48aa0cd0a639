/**
 * The command line of `moe` child processes (control/entry.ts): it carries the V8 flags of serving
 * processes (NODE_FLAGS), and this Node.js accepts them — a flag it does not know makes `node` exit with
 * "bad option" before the CLI runs.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { NODE_FLAGS, moeCommand } from "../../control/index.js";

describe("moeCommand", () => {
  it("starts the moe CLI with NODE_FLAGS (--no-memory-reducer, --no-incremental-marking), which this Node.js accepts", () => {
    const { command, args } = moeCommand();
    expect(NODE_FLAGS).toContain("--no-memory-reducer");
    expect(NODE_FLAGS).toContain("--no-incremental-marking");
    for (const f of NODE_FLAGS) expect(args).toContain(f);
    const r = spawnSync(command, [...args, "--version"], { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).not.toMatch(/bad option/);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("adds the flags of $MOE_NODE_FLAGS after NODE_FLAGS, and a flag there reaches the child's V8", () => {
    const saved = process.env.MOE_NODE_FLAGS;
    process.env.MOE_NODE_FLAGS = " --max-old-space-size=123   --stack-size=900 ";
    try {
      const { command, args } = moeCommand();
      const at = args.indexOf("--max-old-space-size=123");
      expect(at).toBeGreaterThan(args.indexOf(NODE_FLAGS[NODE_FLAGS.length - 1]!));
      expect(args[at + 1]).toBe("--stack-size=900");
      expect(args).not.toContain("");
      // the flags go before the entry script: node (not the CLI) reads them
      const r = spawnSync(command, [...args.slice(0, -1), "-p", "require('v8').getHeapStatistics().heap_size_limit"], { encoding: "utf8", timeout: 60_000 });
      expect(r.stderr).not.toMatch(/bad option/);
      // --max-old-space-size=123 took: the heap limit is 123 MiB plus the young generation (default: gigabytes)
      const limit = Number(r.stdout.trim());
      expect(limit).toBeGreaterThanOrEqual(123 * 2 ** 20);
      expect(limit).toBeLessThan(200 * 2 ** 20);
    } finally {
      if (saved === undefined) delete process.env.MOE_NODE_FLAGS;
      else process.env.MOE_NODE_FLAGS = saved;
    }
  });
});
