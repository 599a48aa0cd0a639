/**
 * A process's status as a typed `status` message: one row per number
 * (metric, a, b, value). The metric table below is the contract between the
 * control endpoint and its readers; a row of an unknown metric is ignored,
 * so new metrics can be added at the end without breaking older readers.
 * Strings travel as indices: roles into {@link ROLES}, expert hosts into the
 * sorted host names of runtime.json.
 */
import type { Status } from "../transport/index.js";
import type { ProcessRole } from "./runtime.js";
import type { ProcessStatus } from "./status.js";

/** Metric names by wire index (append only). */
export const STATUS_METRICS = [
  "pid",
  "uptime_seconds",
  "rss_bytes",
  "role",
  "stage.index",
  "stage.layers",
  "stage.live",
  "stage.busy_seconds",
  "stage.requests",
  "stage.rows",
  "stage.inflight_rows",
  "stage.down_host",
  "stage.reclaimed",
  "stage.failures",
  "wire.messages_out",
  "wire.bytes_out",
  "wire.bytes_in",
  "wire.errors",
  "wire.p50_ms",
  "wire.p99_ms",
  "wire.mean_ms",
  "wire.count",
  "expert.experts",
  "expert.runs",
  "expert.requests",
  "expert.rows",
  "router.index",
  "router.layers",
  "load",
  "gateway.port",
  "expert.resident_experts",
  "expert.resident_weight_bytes",
] as const;

type Metric = (typeof STATUS_METRICS)[number];
const INDEX = new Map<string, number>(STATUS_METRICS.map((m, i) => [m, i]));

/** Process roles by wire index. */
export const ROLES: readonly ProcessRole[] = ["stage", "router", "expert", "gateway"];

/** What the reader knows of the process without asking it. */
export interface StatusContext {
  readonly name: string;
  readonly host: string;
  /** Expert host names, sorted (runtime.json's `expertHosts` keys). */
  readonly expertHosts: readonly string[];
  /** Bind address of a gateway (`host:port`) to rebuild its URL. */
  readonly gatewayBind?: string;
}

/** Encode a status as rows. */
export function encodeStatus(s: ProcessStatus, ctx: Pick<StatusContext, "expertHosts">): Status {
  const rows: [number, number, number, number][] = [];
  const add = (m: Metric, value: number, a = 0, b = 0) => rows.push([INDEX.get(m)!, a, b, value]);
  add("pid", s.pid);
  add("uptime_seconds", s.uptimeSeconds);
  add("rss_bytes", s.rssBytes);
  add("role", 0, ROLES.indexOf(s.role));
  if (s.stage) {
    const st = s.stage;
    add("stage.index", st.index);
    add("stage.layers", 0, st.layers[0], st.layers[1]);
    add("stage.live", st.live);
    add("stage.busy_seconds", st.busySeconds);
    add("stage.requests", st.requests);
    add("stage.rows", st.rows);
    add("stage.inflight_rows", st.inflightRows);
    add("stage.reclaimed", st.reclaimed ?? 0);
    add("stage.failures", st.failures ?? 0);
    for (const h of st.downHosts) {
      const i = ctx.expertHosts.indexOf(h);
      if (i >= 0) add("stage.down_host", 1, i);
    }
  }
  if (s.wire) {
    const w = s.wire;
    add("wire.messages_out", w.messagesOut);
    add("wire.bytes_out", w.bytesOut);
    add("wire.bytes_in", w.bytesIn);
    add("wire.errors", w.errors);
    add("wire.p50_ms", w.p50Ms);
    add("wire.p99_ms", w.p99Ms);
    add("wire.mean_ms", w.meanMs);
    add("wire.count", w.count);
  }
  if (s.expert) {
    add("expert.experts", s.expert.experts);
    add("expert.runs", s.expert.runs);
    add("expert.requests", s.expert.requests);
    add("expert.rows", s.expert.rows);
    if (s.expert.residentExperts !== undefined) add("expert.resident_experts", s.expert.residentExperts);
    if (s.expert.residentWeightBytes !== undefined) add("expert.resident_weight_bytes", s.expert.residentWeightBytes);
  }
  if (s.router) {
    add("router.index", s.router.index);
    add("router.layers", 0, s.router.layers[0], s.router.layers[1]);
  }
  if (s.load) s.load.counts.forEach((row, i) => row.forEach((n, e) => add("load", n, s.load!.first + i, e)));
  if (s.gateway) add("gateway.port", Number(new URL(s.gateway.url).port));
  return {
    kind: "status",
    metric: Uint32Array.from(rows, (r) => r[0]),
    a: Uint32Array.from(rows, (r) => r[1]),
    b: Uint32Array.from(rows, (r) => r[2]),
    value: Float64Array.from(rows, (r) => r[3]),
  };
}

/** Decode a `status` message (rows of unknown metrics are skipped). */
export function decodeStatus(m: Status, ctx: StatusContext): ProcessStatus {
  const one = new Map<Metric, { a: number; b: number; value: number }>();
  const down: string[] = [];
  const load = new Map<number, number[]>();
  for (let i = 0; i < m.metric.length; i++) {
    const name = STATUS_METRICS[m.metric[i]!];
    if (name === undefined) continue;
    const r = { a: m.a[i]!, b: m.b[i]!, value: m.value[i]! };
    if (name === "stage.down_host") down.push(ctx.expertHosts[r.a] ?? `host-${r.a}`);
    else if (name === "load") {
      let row = load.get(r.a);
      if (!row) load.set(r.a, (row = []));
      row[r.b] = r.value;
    } else one.set(name, r);
  }
  const v = (k: Metric) => one.get(k)?.value ?? 0;
  const range = (k: Metric): [number, number] => [one.get(k)?.a ?? 0, one.get(k)?.b ?? 0];
  const layers = [...load.keys()].sort((x, y) => x - y);
  return {
    name: ctx.name,
    host: ctx.host,
    role: ROLES[one.get("role")?.a ?? 0] ?? "stage",
    pid: v("pid"),
    uptimeSeconds: v("uptime_seconds"),
    rssBytes: v("rss_bytes"),
    ...(one.has("stage.index")
      ? {
          stage: {
            index: v("stage.index"),
            layers: range("stage.layers"),
            live: v("stage.live"),
            busySeconds: v("stage.busy_seconds"),
            requests: v("stage.requests"),
            rows: v("stage.rows"),
            inflightRows: v("stage.inflight_rows"),
            downHosts: down,
            reclaimed: v("stage.reclaimed"),
            failures: v("stage.failures"),
          },
        }
      : {}),
    ...(one.has("wire.count")
      ? { wire: { messagesOut: v("wire.messages_out"), bytesOut: v("wire.bytes_out"), bytesIn: v("wire.bytes_in"), errors: v("wire.errors"), p50Ms: v("wire.p50_ms"), p99Ms: v("wire.p99_ms"), meanMs: v("wire.mean_ms"), count: v("wire.count") } }
      : {}),
    ...(one.has("expert.experts")
      ? {
          expert: {
            experts: v("expert.experts"),
            runs: v("expert.runs"),
            requests: v("expert.requests"),
            rows: v("expert.rows"),
            ...(one.has("expert.resident_experts") ? { residentExperts: v("expert.resident_experts") } : {}),
            ...(one.has("expert.resident_weight_bytes") ? { residentWeightBytes: v("expert.resident_weight_bytes") } : {}),
          },
        }
      : {}),
    ...(one.has("router.index") ? { router: { index: v("router.index"), layers: range("router.layers") } } : {}),
    ...(layers.length ? { load: { first: layers[0]!, counts: layers.map((l) => Array.from(load.get(l)!, (x) => x ?? 0)) } } : {}),
    ...(one.has("gateway.port") && ctx.gatewayBind ? { gateway: { url: `http://${ctx.gatewayBind.slice(0, ctx.gatewayBind.lastIndexOf(":"))}:${v("gateway.port")}` } } : {}),
  };
}
