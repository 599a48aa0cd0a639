/**
 * zod schema of the cluster YAML (snake_case, as written). Structure, units,
 * names and references are checked here; what a device key means (the
 * catalogue) is the planner's business. Every quantity comes out in base
 * units (bytes, bytes/s, FLOP/s, seconds).
 */
import { z } from "zod";
import { parseQuantity, type QuantityKind } from "./units.js";

/** What a host may do (DESIGN.md §2). */
export type Role = "stage" | "expert" | "router" | "gateway";
export const ROLES: readonly Role[] = ["stage", "expert", "router", "gateway"];

/** Weight dtypes a file may name (`fp16`/`fp32` are read as `f16`/`f32`). */
export type FileDType = "f32" | "bf16" | "f16" | "int8" | "q8_0";

const quantity = (kind: QuantityKind) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    try {
      return parseQuantity(v, kind);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
  });

const dtypeSchema = z.enum(["f32", "bf16", "f16", "int8", "q8_0", "fp16", "fp32"]).transform((d) => (d === "fp16" ? "f16" : d === "fp32" ? "f32" : d) as FileDType);

export const networkSchema = z.strictObject({ bandwidth: quantity("bytesPerSecond").optional(), latency: quantity("seconds").optional() });

const computeSchema = z.union([quantity("flopsPerSecond"), z.strictObject(Object.fromEntries(["f32", "bf16", "f16", "int8", "q8_0", "fp16"].map((d) => [d, quantity("flopsPerSecond").optional()])))]);

const port = z.number().int().min(1).max(65535);
const hostName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "host names use letters, digits, '.', '_' and '-' and start with a letter or digit");

export const hostSchema = z
  .strictObject({
    name: hostName,
    count: z.number().int().min(1).max(4096).optional(),
    gpu: z.string().min(1).optional(),
    device: z.string().min(1).optional(),
    memory: quantity("bytes").optional(),
    reserve: quantity("bytes").optional(),
    memory_bandwidth: quantity("bytesPerSecond").optional(),
    compute: computeSchema.optional(),
    network: networkSchema.optional(),
    roles: z.array(z.enum(ROLES as [Role, ...Role[]])).min(1).optional(),
    execution_provider: z.string().min(1).optional(),
    address: z.string().min(1).optional(),
    ports: z.union([port, z.record(z.string(), port)]).optional(),
    threads: z.number().int().min(1).max(1024).optional(),
    /** `moe up` starts the host's processes over ssh (static mode): `user@host`, or the long form. */
    ssh: z
      .union([
        z.string().min(1),
        z.strictObject({
          to: z.string().min(1),
          port: port.optional(),
          identity: z.string().min(1).optional(),
          dir: z.string().min(1).optional(),
          moe: z.string().min(1).optional(),
          options: z.array(z.string().min(1)).optional(),
        }),
      ])
      .optional(),
  })
  .superRefine((h, ctx) => {
    if (h.gpu !== undefined && h.device !== undefined) ctx.addIssue({ code: "custom", path: ["device"], message: "give either 'gpu' or 'device', not both" });
    const dev = h.gpu ?? h.device;
    for (const [field, present] of [["memory", h.memory], ["memory_bandwidth", h.memory_bandwidth], ["compute", h.compute]] as const)
      if (dev === undefined && present === undefined) ctx.addIssue({ code: "custom", path: [field], message: `missing: set 'gpu:' (or 'device:') to a catalogue device or give '${field}' explicitly` });
    if (h.roles && new Set(h.roles).size !== h.roles.length) ctx.addIssue({ code: "custom", path: ["roles"], message: "roles are listed twice" });
    if (h.count !== undefined && h.count > 1 && h.ports !== undefined) ctx.addIssue({ code: "custom", path: ["ports"], message: "'ports' cannot be shared by 'count' > 1 hosts; list the hosts one by one" });
    if (h.count !== undefined && h.count > 1 && h.ssh !== undefined) ctx.addIssue({ code: "custom", path: ["ssh"], message: "'ssh' cannot be shared by 'count' > 1 hosts; list the hosts one by one" });
  });

export const placementSchema = z.strictObject({
  stages: z.array(z.strictObject({ host: z.string(), layers: z.tuple([z.number().int().min(0), z.number().int().min(1)]) })).min(1),
  experts: z.array(
    z.strictObject({
      layer: z.number().int().min(0),
      expert: z.number().int().min(0),
      hosts: z.array(z.string()).min(1),
      weights: z.array(z.number().positive()).optional(),
    }),
  ),
  routers: z.array(z.strictObject({ stage: z.number().int().min(0), host: z.string() })).optional(),
});

/** Data-plane deadlines: one pipeline step, one expert dispatch (then another replica is tried), the idle time after which a stage frees an unreleased sequence. */
export const timeoutsSchema = z.strictObject({ step: quantity("seconds").optional(), dispatch: quantity("seconds").optional(), sequence_idle: quantity("seconds").optional() });

/** `count: 3` expands `name` to `name-0` … `name-2`. */
export function expandNames(name: string, count: number | undefined): string[] {
  return count === undefined ? [name] : Array.from({ length: count }, (_, i) => `${name}-${i}`);
}

/** The whole file. */
export const clusterFileSchema = z
  .strictObject({
    name: z.string().optional(),
    model: z.string().min(1).optional(),
    dtype: dtypeSchema.optional(),
    wire_dtype: z.enum(["f32", "f16"]).optional(),
    curve: z.boolean().optional(),
    nats: z.string().regex(/^(nats|tls|ws|wss):\/\/\S+$/, "expected a NATS URL such as nats://127.0.0.1:4222").optional(),
    min_hosts: z.number().int().min(1).max(4096).optional(),
    network: networkSchema.optional(),
    timeouts: timeoutsSchema.optional(),
    warmup_passes: z.number().int().min(0).max(1000).optional(),
    hosts: z.array(hostSchema).optional(),
    placement: placementSchema.optional(),
  })
  .superRefine((c, ctx) => {
    // dynamic mode: hosts join over NATS; listed hosts only constrain the ones with their names
    if (c.nats === undefined && !c.hosts?.length) ctx.addIssue({ code: "custom", path: ["hosts"], message: "list at least one host (or set 'nats:' for a cluster whose hosts join with `moe node --join`)" });
    if (c.min_hosts !== undefined && c.nats === undefined) ctx.addIssue({ code: "custom", path: ["min_hosts"], message: "'min_hosts' needs 'nats:' (dynamic mode)" });
    if (c.nats !== undefined) c.hosts?.forEach((h, i) => h.ssh !== undefined && ctx.addIssue({ code: "custom", path: ["hosts", i, "ssh"], message: "'ssh' starts hosts in static mode; with 'nats:' hosts join by themselves (`moe node --join`)" }));
    const names = new Map<string, number>();
    (c.hosts ?? []).forEach((h, i) => {
      for (const n of expandNames(h.name, h.count)) {
        if (names.has(n)) ctx.addIssue({ code: "custom", path: ["hosts", i, "name"], message: `host name '${n}' is used twice (also hosts[${names.get(n)}])` });
        else names.set(n, i);
      }
    });
    const known = (host: string, path: (string | number)[]) => {
      if (!names.has(host)) ctx.addIssue({ code: "custom", path, message: `no host named '${host}' in hosts` });
    };
    c.placement?.stages.forEach((s, i) => known(s.host, ["placement", "stages", i, "host"]));
    c.placement?.routers?.forEach((r, i) => known(r.host, ["placement", "routers", i, "host"]));
    c.placement?.experts.forEach((e, i) => e.hosts.forEach((h, j) => known(h, ["placement", "experts", i, "hosts", j])));
  });

/** The cluster file as written, after zod (quantities in base units). */
export type ClusterFile = z.output<typeof clusterFileSchema>;
