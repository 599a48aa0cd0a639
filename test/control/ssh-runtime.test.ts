/**
 * The runtime.json an ssh host gets (static mode): paths point into its working directory; with
 * per-host parts (`moe up --parts`) the host's processes open its own part — the one file it was
 * sent — and the other hosts' part paths (the launcher's) are not carried over.
 */
import { describe, expect, it } from "vitest";
import { hostModelPath, modelPathFor, remoteRuntime, type Runtime, type RuntimeProcess } from "../../control/index.js";

const proc = (name: string, host: string): RuntimeProcess => ({ name, host, role: "expert", endpoint: "tcp://10.0.0.2:7400", bind: "tcp://0.0.0.0:7400", control: "tcp://10.0.0.2:7401", controlBind: "tcp://0.0.0.0:7401", threads: 1, executionProvider: "cpu", local: false }) as RuntimeProcess;

function runtime(parts: boolean): Runtime {
  return {
    runDir: "/head/run",
    model: { path: "/head/parts/head.gguf", ...(parts ? { parts: { head: "/head/parts/head.gguf", b: "/head/parts/b.gguf", c: "/head/parts/c.gguf" } } : {}) },
    processes: [proc("b-experts", "b"), proc("c-experts", "c")],
    curve: { keysDir: "/head/keys" },
  } as unknown as Runtime;
}

describe("runtime.json of an ssh host", () => {
  it("with parts: the host's processes open the part it was sent, nothing of the launcher's paths", () => {
    const rt = runtime(true);
    expect(hostModelPath(rt, "b")).toBe("/head/parts/b.gguf");
    const remote = remoteRuntime(rt, "/srv/moe", { root: "b.gguf", kind: "file", files: [] }, "b");
    expect(modelPathFor(remote, proc("b-experts", "b"))).toBe("model/b.gguf");
    expect(remote.model.parts).toEqual({ b: "model/b.gguf" });
    expect(JSON.stringify(remote)).not.toContain("/head/");
    expect(remote.runDir).toBe("/srv/moe");
    expect(remote.curve).toEqual({ keysDir: "keys" });
  });
  it("without parts: the whole model in the host's directory", () => {
    const remote = remoteRuntime(runtime(false), "/srv/moe", { root: "grok-1-tiny", kind: "dir", files: [] }, "b");
    expect(remote.model.parts).toBeUndefined();
    expect(modelPathFor(remote, proc("b-experts", "b"))).toBe("model/grok-1-tiny");
  });
});
