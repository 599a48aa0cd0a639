/**
 * The runtime layout (pure): process names, endpoints, ports from the config
 * or free ports, stage chaining, errors that name the field; and the planner
 * filling in a placement when the file has none.
 */
import { describe, expect, it } from "vitest";
import { computeRuntime, type RuntimeInput } from "../../control/index.js";
import { presetConfig } from "../../model/index.js";
import { loadClusterConfig, parseClusterConfigYaml } from "../../config/index.js";
import { makePlan } from "../../planner/index.js";
import { clusterAndSettings } from "../clusters.js";

const cfg = presetConfig("grok-1-tiny");

function layout(yaml: string, extra: Partial<RuntimeInput> = {}) {
  const { cluster, settings } = clusterAndSettings(parseClusterConfigYaml(yaml, "test.yaml"));
  const plan = makePlan(cfg, cluster, { dtype: "f32" });
  let port = 20000;
  return computeRuntime({ cluster, settings, plan, model: { path: "/m", config: cfg }, runDir: "/run", freePort: () => port++, ...extra });
}

const HOSTS = `
hosts:
  - { name: s0, device: cpu-local, address: 127.0.0.1, roles: [stage, router, gateway] }
  - { name: s1, device: cpu-local, address: 127.0.0.1, roles: [stage, router] }
  - { name: e0, device: cpu-local, address: 127.0.0.1, roles: [expert] }
`;

describe("computeRuntime", () => {
  it("lays out configs/clusters/local.yaml: stages chained, routers in their stage, experts by host", () => {
    const { cluster, settings } = clusterAndSettings(loadClusterConfig("configs/clusters/local.yaml"));
    const plan = makePlan(cfg, cluster, { dtype: "f32" });
    let port = 30000;
    const rt = computeRuntime({ cluster, settings, plan, model: { path: "/m", config: cfg }, runDir: "/run", gatewayPort: 0, freePort: () => port++ });
    expect(rt.processes.map((p) => [p.name, p.role])).toEqual([
      ["stage0", "stage"],
      ["gateway", "gateway"],
      ["stage1", "stage"],
      ["expert0", "expert"],
      ["expert1", "expert"],
      ["expert2", "expert"],
    ]);
    const [s0, , s1] = rt.processes;
    expect(s0!.stage).toMatchObject({ index: 0, layers: [0, 2], next: s1!.endpoint, router: "stage0.router" });
    expect(s1!.stage!.next).toBeNull();
    expect(rt.stages).toEqual(["stage0", "stage1"]);
    expect(Object.keys(rt.expertHosts)).toEqual(["expert0", "expert1", "expert2"]);
    expect(rt.processes.find((p) => p.name === "expert2")!.experts).toEqual([0, 1, 2, 3].map((l) => [l, 7]));
    expect(rt.experts.find((x) => x.layer === 0 && x.expert === 0)!.hosts).toEqual(["expert0", "expert1"]);
    expect(rt.processes.every((p) => p.local && p.threads === 1)).toBe(true);
    expect(new Set(rt.processes.flatMap((p) => [p.endpoint, p.control])).size).toBe(12);
    expect(JSON.parse(JSON.stringify(rt))).toEqual(rt); // serialisable as is
  });

  it("lets the planner place the experts when the file has no placement", () => {
    const rt = layout(`name: planned\n${HOSTS}`);
    expect(rt.stages.length).toBeGreaterThanOrEqual(1);
    expect(rt.experts).toHaveLength(cfg.nLayers * cfg.nExperts);
    expect(rt.processes.some((p) => p.role === "expert")).toBe(true);
  });

  it("takes ports from the config: a base per host, or per role", () => {
    const rt = layout(
      `name: ports
hosts:
  - { name: s0, device: cpu-local, address: 10.0.0.1, ports: 7100, roles: [stage, router, gateway, expert] }
  - { name: e0, device: cpu-local, address: 10.0.0.2, ports: { expert: 7300 }, roles: [expert] }
placement:
  stages: [{ host: s0, layers: [0, 4] }]
  experts: [${Array.from({ length: 32 }, (_, k) => `{ layer: ${k >> 3}, expert: ${k & 7}, hosts: [${k & 1 ? "e0" : "s0"}] }`).join(", ")}]
`,
      { isLocal: () => false },
    );
    const by = Object.fromEntries(rt.processes.map((p) => [p.name, p]));
    expect(Object.keys(by)).toEqual(["s0-stage0", "s0-experts", "gateway", "e0"]);
    expect(by["s0-stage0"]!.endpoint).toBe("tcp://10.0.0.1:7100");
    expect(by["s0-stage0"]!.control).toBe("tcp://10.0.0.1:7101");
    expect(by["s0-experts"]!.endpoint).toBe("tcp://10.0.0.1:7102");
    expect(by.gateway!.endpoint).toBe("http://10.0.0.1:7104");
    expect(by.e0!.endpoint).toBe("tcp://10.0.0.2:7300");
    expect(by.e0!.bind).toBe("tcp://10.0.0.2:7300");
    expect(rt.expertHosts).toEqual({ s0: "tcp://10.0.0.1:7102", e0: "tcp://10.0.0.2:7300" });
  });

  it("needs ports for a host on another machine, naming the field", () => {
    expect(() => layout(`name: remote\n${HOSTS.replace("address: 127.0.0.1, roles: [expert]", "address: 10.9.9.9, roles: [expert]")}`)).toThrow(/hosts\[2\]\.ports: host 'e0' is on another machine/);
  });

  it("rejects an unknown per-role port key and an execution provider it cannot run", () => {
    expect(() => layout(`name: x\n${HOSTS.replace("roles: [expert]", "roles: [expert], ports: { experts: 7000 }")}`)).toThrow(/hosts\[2\]\.ports\.experts: unknown role 'experts'/);
    expect(() => layout(`name: x\n${HOSTS.replace("roles: [expert]", "roles: [expert], execution_provider: coreml")}`)).toThrow(/hosts\[2\]\.execution_provider: 'coreml' cannot run here/);
  });

  it("reads timeouts from the file and leaves the gateway out on request", () => {
    const rt = layout(`name: t\ntimeouts: { step: 2s, dispatch: 250ms, sequence_idle: 90s }\n${HOSTS}`, { gateway: false });
    expect(rt.timeouts).toEqual({ stepMs: 2000, dispatchMs: 250, sequenceIdleMs: 90_000 });
    expect(layout(`name: t\n${HOSTS}`, { gateway: false }).timeouts.sequenceIdleMs).toBe(300_000);
    expect(rt.gateway).toBeNull();
    expect(rt.processes.some((p) => p.role === "gateway")).toBe(false);
  });
});
