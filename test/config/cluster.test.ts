import { describe, expect, it } from "vitest";
import { MoeError } from "../../common/index.js";
import { ConfigError, DEFAULT_WARMUP_PASSES, loadClusterConfig, parseClusterConfigYaml, parseQuantity } from "../../config/index.js";
import { ClusterConfigError, DEVICES } from "../../planner/index.js";
import { loadCluster, parseClusterYaml } from "../clusters.js";

describe("quantities", () => {
  it("accepts numbers and strings with units", () => {
    expect(parseQuantity(80e9, "bytes")).toBe(80e9);
    expect(parseQuantity("80GB", "bytes")).toBe(80e9);
    expect(parseQuantity("80GiB", "bytes")).toBe(80 * 2 ** 30);
    expect(parseQuantity("512 MiB", "bytes")).toBe(512 * 2 ** 20);
    expect(parseQuantity("8.5e10", "bytes")).toBe(8.5e10);
    expect(parseQuantity("3.35TB/s", "bytesPerSecond")).toBeCloseTo(3.35e12, 0);
    expect(parseQuantity("100Gbit/s", "bytesPerSecond")).toBe(12.5e9);
    expect(parseQuantity("25Gbps", "bytesPerSecond")).toBe(3.125e9);
    expect(parseQuantity("900 GB/s", "bytesPerSecond")).toBe(900e9);
    expect(parseQuantity("989TFLOP/s", "flopsPerSecond")).toBe(989e12);
    expect(parseQuantity("1979 TOPS", "flopsPerSecond")).toBe(1979e12);
    expect(parseQuantity("5us", "seconds")).toBeCloseTo(5e-6, 15);
    expect(parseQuantity("5µs", "seconds")).toBeCloseTo(5e-6, 15);
    expect(parseQuantity("0.5ms", "seconds")).toBeCloseTo(5e-4, 15);
  });
  it("rejects what it cannot read, saying what it expected", () => {
    expect(() => parseQuantity("80 GX", "bytes")).toThrow(/cannot read '80 GX' as a size \(e\.g\. 80GB/);
    expect(() => parseQuantity("3.35TB", "bytesPerSecond")).toThrow(/as a bandwidth/);
    expect(() => parseQuantity("5 parsecs", "seconds")).toThrow(/as a time/);
    expect(() => parseQuantity(-1, "bytes")).toThrow(/non-negative/);
  });
});

describe("cluster YAML", () => {
  it("reads the example clusters", () => {
    const h = loadCluster("configs/clusters/h100x8.yaml");
    expect(h.hosts.map((x) => x.name)).toEqual(Array.from({ length: 8 }, (_, i) => `h100-${i}`));
    expect(h.hosts[0]!.memoryBytes).toBe(DEVICES["h100-80gb"]!.memoryBytes);
    expect(h.hosts[0]!.network).toEqual({ bandwidth: 10e9, latency: 30e-6 });
    expect(h.hosts[0]!.roles).toEqual(["stage", "expert", "router", "gateway"]);
    const m = loadCluster("configs/clusters/mixed.yaml");
    expect(m.hosts.length).toBe(12);
    expect(m.hosts.filter((x) => x.device === "m2-ultra-192gb").length).toBe(2);
    expect(m.hosts.find((x) => x.name === "m2u-0")!.network.bandwidth).toBe(1.25e9);
    expect(m.hosts.find((x) => x.name === "rtx4090-0")!.network.latency).toBeCloseTo(60e-6, 12);
    const l = loadCluster("configs/clusters/local.yaml");
    expect(l).toMatchObject({ name: "local", dtype: "f32", wireBytesPerElement: 4 });
    expect(l.hosts.every((x) => x.address === "127.0.0.1" && x.device === "cpu-local")).toBe(true);
    expect(l.placement!.stages.length).toBe(2);
  });

  it("parses the file once into frozen slices: the planner's and the runtime's", () => {
    const c = loadClusterConfig("configs/clusters/local.yaml");
    expect(c).toMatchObject({ source: "configs/clusters/local.yaml", name: "local", model: "grok-1-tiny" });
    expect(c.runtime).toMatchObject({ wireDtype: "f32", curve: false, timeouts: { stepMs: 30_000, dispatchMs: 5_000 }, warmupPasses: DEFAULT_WARMUP_PASSES });
    expect(c.runtime.hosts.map((h) => [h.name, h.address, h.threads, h.field])).toEqual(["stage0", "stage1", "expert0", "expert1", "expert2"].map((n, i) => [n, "127.0.0.1", 1, `hosts[${i}]`]));
    // runtime fields (ports, threads, timeouts, CURVE, wire dtype) are not the planner's
    const planningKeys = new Set([...Object.keys(c.planning), ...c.planning.hosts.flatMap((h) => Object.keys(h))]);
    for (const k of ["ports", "threads", "timeouts", "curve", "wireDtype", "wire_dtype", "nats"]) expect(planningKeys.has(k)).toBe(false);
    expect(c.planning.wireBytesPerElement).toBe(4);
    const frozen = (o: unknown): boolean => typeof o !== "object" || o === null || (Object.isFrozen(o) && Object.values(o).every(frozen));
    expect(frozen(c.planning)).toBe(true);
    expect(frozen(c.runtime)).toBe(true);
    expect(() => ((c.runtime.timeouts as { stepMs?: number }).stepMs = 1)).toThrow(TypeError);
  });

  it("lets explicit numbers override the catalogue", () => {
    const c = parseClusterYaml(`hosts:\n  - name: a\n    gpu: h100-80gb\n    memory: 40GiB\n    compute: { int8: 1979TOPS }\n`);
    expect(c.hosts[0]!.memoryBytes).toBe(40 * 2 ** 30);
    expect(c.hosts[0]!.compute.int8).toBe(1979e12);
    expect(c.hosts[0]!.compute.bf16).toBe(989e12);
    expect(c.hosts[0]!.memoryBandwidth).toBe(3.35e12);
    const custom = parseClusterYaml(`hosts:\n  - name: box\n    memory: 64GB\n    memory_bandwidth: 100GB/s\n    compute: 2TFLOP/s\n`);
    expect(custom.hosts[0]).toMatchObject({ memoryBytes: 64e9, memoryBandwidth: 100e9, executionProvider: "cpu" });
    expect(custom.hosts[0]!.compute.bf16).toBe(2e12);
  });

  it("hands the fields `moe up` reads to the runtime slice, expanded by count", () => {
    const c = parseClusterConfigYaml(`
model: grok-1-tiny
wire_dtype: f16
curve: true
nats: nats://127.0.0.1:4222
timeouts: { step: 2s, dispatch: 250ms, sequence_idle: 90s }
warmup_passes: 3
hosts:
  - { name: s0, device: cpu-local, address: 127.0.0.1, ports: { stage: 5555, router: 5556 }, threads: 2, roles: [stage, router] }
  - { name: e0, device: cpu-local, address: 127.0.0.1, ports: 6000, roles: [expert] }
  - { name: g, gpu: l4, count: 2, address: 10.0.0.9 }
`);
    expect(c.runtime).toMatchObject({ wireDtype: "f16", curve: true, nats: "nats://127.0.0.1:4222", timeouts: { stepMs: 2000, dispatchMs: 250, sequenceIdleMs: 90_000 }, warmupPasses: 3 });
    expect(c.runtime.hosts[0]).toMatchObject({ name: "s0", ports: { stage: 5555, router: 5556 }, threads: 2 });
    expect(c.runtime.hosts[1]!.ports).toBe(6000);
    expect(c.runtime.hosts.slice(2).map((h) => [h.name, h.address, h.field])).toEqual([["g-0", "10.0.0.9", "hosts[2]"], ["g-1", "10.0.0.9", "hosts[2]"]]);
    expect(c.planning.wireBytesPerElement).toBe(2);
    expect(c.planning.hosts.map((h) => h.count)).toEqual([undefined, undefined, 2]);
  });

  /** The error of reading `yaml` as the CLI does: config/ parses, the planner resolves devices. */
  const err = (yaml: string): ConfigError | ClusterConfigError => {
    try {
      parseClusterYaml(yaml, "cluster.yaml");
    } catch (e) {
      expect(e instanceof ConfigError || e instanceof ClusterConfigError).toBe(true);
      expect((e as ConfigError).code).toBe("CLUSTER_CONFIG");
      expect(e).toBeInstanceOf(MoeError);
      return e as ConfigError;
    }
    throw new Error("expected an error");
  };

  it("reads dynamic mode (nats:, min_hosts:, hosts optional) and ssh hosts (static mode)", () => {
    const d = parseClusterConfigYaml("name: dyn\nnats: nats://10.0.0.1:4222\nmin_hosts: 3\n", "dyn.yaml").runtime;
    expect(d.nats).toBe("nats://10.0.0.1:4222");
    expect(d.minHosts).toBe(3);
    expect(d.hosts).toEqual([]);
    expect(() => parseClusterYaml("min_hosts: 2\nhosts: [{name: a, device: cpu-local}]\n", "x.yaml")).toThrow(/min_hosts: 'min_hosts' needs 'nats:'/);
    expect(() => parseClusterYaml("name: nothing\n", "x.yaml")).toThrow(/hosts: list at least one host \(or set 'nats:'/);
    const s = parseClusterConfigYaml(
      "hosts:\n  - {name: a, device: cpu-local, ssh: root@10.0.0.2, ports: 7100}\n  - {name: b, device: cpu-local, address: 10.1.0.3, ssh: {to: moe@b.example, port: 2222, identity: /k/id, dir: /srv/moe, moe: /opt/moe/bin/moe}}\n",
      "ssh.yaml",
    ).runtime;
    expect(s.hosts[0]!.ssh).toEqual({ to: "root@10.0.0.2" });
    expect(s.hosts[0]!.address).toBe("10.0.0.2");
    expect(s.hosts[1]!.ssh).toEqual({ to: "moe@b.example", port: 2222, identity: "/k/id", dir: "/srv/moe", moe: "/opt/moe/bin/moe" });
    expect(s.hosts[1]!.address).toBe("10.1.0.3");
    expect(() => parseClusterYaml("nats: nats://h:4222\nhosts:\n  - {name: a, device: cpu-local, ssh: root@h}\n", "x.yaml")).toThrow(/hosts\[0\]\.ssh: 'ssh' starts hosts in static mode/);
    expect(() => parseClusterYaml("hosts:\n  - {name: a, device: cpu-local, ssh: {to: h, prot: 22}}\n", "x.yaml")).toThrow(/unknown field 'prot'/);
  });

  it("rejects unknown fields, naming the path and the line, with a suggestion", () => {
    const e = err(`hosts:\n  - name: a\n    gpu: h100-80gb\n  - name: b\n    gpu: h100-80gb\n    memroy: 80GB\n`);
    expect(e.message).toMatch(/^cluster\.yaml:6: hosts\[1\]\.memroy: unknown field 'memroy' \(did you mean 'memory'\?\)/);
    expect(e.field).toBe("hosts[1].memroy");
    expect(e.line).toBe(6);
    expect(err(`hosts: [{name: a, gpu: l4}]\nnetwrk: {latency: 5us}\n`).message).toMatch(/cluster\.yaml:2: netwrk: unknown field 'netwrk' \(did you mean 'network'\?\)/);
    expect(err(`hosts: [{name: a, gpu: l4, network: {latency: 5us, jitter: 1us}}]\n`).message).toMatch(/hosts\[0\]\.network\.jitter: unknown field/);
  });

  it("names the field of a bad value", () => {
    expect(err(`hosts:\n  - name: a\n    gpu: h100-80gb\n    memory: 80 GX\n`).message).toMatch(/cluster\.yaml:4: hosts\[0\]\.memory: cannot read '80 GX' as a size/);
    expect(err(`hosts:\n  - name: a\n    gpu: h100-80gb\n    memory_bandwidth: 3.35TB\n`).message).toMatch(/hosts\[0\]\.memory_bandwidth: cannot read '3\.35TB' as a bandwidth/);
    expect(err(`hosts:\n  - name: a\n    gpu: h1000\n`).message).toMatch(/^cluster\.yaml:3: hosts\[0\]\.gpu: unknown device 'h1000'; known devices: .*h100-80gb/);
    expect(err(`hosts:\n  - name: a\n    gpu: l4\n    execution_provider: tpu\n`).message).toMatch(/^cluster\.yaml:4: hosts\[0\]\.execution_provider: unknown execution provider 'tpu'/);
    expect(err(`hosts:\n  - name: a\n    memory: 8GB\n`).message).toMatch(/hosts\[0\]\.memory_bandwidth: missing: set 'gpu:'/);
    expect(err(`hosts:\n  - { name: a, gpu: l4, threads: 0 }\n`).message).toMatch(/hosts\[0\]\.threads:/);
    expect(err(`hosts:\n  - { name: a, gpu: l4, roles: [stage, cook] }\n`).message).toMatch(/hosts\[0\]\.roles\[1\]:/);
    expect(err(`nats: localhost\nhosts: [{ name: a, gpu: l4 }]\n`).message).toMatch(/nats: expected a NATS URL/);
    expect(err(`wire_dtype: f8\nhosts: [{ name: a, gpu: l4 }]\n`).message).toMatch(/wire_dtype:/);
    expect(err(`hosts: []\n`).message).toMatch(/hosts:/);
    expect(err(`warmup_passes: -1\nhosts: [{ name: a, gpu: l4 }]\n`).message).toMatch(/^cluster\.yaml:1: warmup_passes:/);
    expect(err(`warmup_passes: 2.5\nhosts: [{ name: a, gpu: l4 }]\n`).message).toMatch(/warmup_passes:/);
  });

  it("rejects duplicate names (after count expansion) and placements naming unknown hosts", () => {
    expect(err(`hosts:\n  - { name: g, gpu: l4, count: 2 }\n  - { name: g-1, gpu: l4 }\n`).message).toMatch(/hosts\[1\]\.name: host name 'g-1' is used twice/);
    const e = err(`hosts: [{ name: a, gpu: l4 }]\nplacement:\n  stages: [{ host: b, layers: [0, 4] }]\n  experts: []\n`);
    expect(e.message).toMatch(/cluster\.yaml:3: placement\.stages\[0\]\.host: no host named 'b'/);
  });

  it("reports YAML syntax errors with the line", () => {
    expect(err(`hosts:\n  - name: a\n   gpu: [l4\n`).message).toMatch(/^cluster\.yaml(:\d+)?: not valid YAML/);
  });

  it("says which file could not be read", () => {
    expect(() => loadClusterConfig("configs/clusters/nope.yaml")).toThrow(/configs\/clusters\/nope\.yaml: cannot read the cluster file/);
  });
});
