/**
 * `moe bench engine --compare DIR` (bench/engine-compare.ts loadCompareBuild): the other build is loaded only when it
 * resolves this checkout's onnxruntime-node (a second copy of its native binding aborts the process), else
 * refused with the link that fixes it. Real folders, real module resolution, a real dynamic import.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadCompareBuild } from "../../bench/index.js";

const tmp = mkdtempSync(join(tmpdir(), "moe-bench-compare-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ours = realpathSync(resolve("node_modules"));

/** A checkout at `dir` whose dist/model/index.js exports an Engine with a `create`. */
function checkout(dir: string): void {
  mkdirSync(join(dir, "dist", "model"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(join(dir, "dist", "model", "index.js"), "export class Engine { static async create() { return 'compare engine'; } }\n");
}

describe("loadCompareBuild", () => {
  it("loads the Engine of a build whose node_modules is this checkout's (from its checkout or its dist/)", async () => {
    const dir = join(tmp, "linked");
    checkout(dir);
    symlinkSync(ours, join(dir, "node_modules"));
    for (const d of [dir, join(dir, "dist")]) {
      const E = await loadCompareBuild(d);
      expect(await (E.create as unknown as () => Promise<string>)()).toBe("compare engine");
    }
  });
  it("refuses a build with its own onnxruntime-node, naming both and the link that fixes it", async () => {
    const dir = join(tmp, "own");
    checkout(dir);
    const pkg = join(dir, "node_modules", "onnxruntime-node");
    mkdirSync(join(pkg, "dist"), { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "onnxruntime-node", main: "dist/index.js" }));
    writeFileSync(join(pkg, "dist", "index.js"), "module.exports = {};\n");
    const err = await loadCompareBuild(dir).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`that build loads onnxruntime-node from ${realpathSync(pkg)}, this one from ${join(ours, "onnxruntime-node")}`);
    expect((err as Error).message).toContain(`(fix: ln -sfn ${ours} ${join(realpathSync(dir), "node_modules")})`);
  });
  it("says where the build should be when there is none", async () => {
    await expect(loadCompareBuild(join(tmp, "nothing"))).rejects.toThrow(/--compare .*nothing: no .*nothing\/dist\/model\/index\.js; give the dist\/ folder of a built checkout/);
  });
});
