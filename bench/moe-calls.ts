/**
 * One layer's MoE call as the router makes it (protocol v2), as data: the
 * rows, and the `moe.dispatch` messages — one per expert host, carrying the
 * rows of every expert of the layer it gets (an `expert` column, each
 * expert's rows contiguous), with a replicated expert's rows split across
 * its replicas the way RouterCore's `assign()` splits them — each with the
 * `moe.result` it gets back, encoded exactly as they travel. The raw ZeroMQ
 * baseline replays these frames; the codec timings encode and decode them.
 */
import { combine, gatherRows, groupByExpert, routeRows, type ModelConfig } from "../model/index.js";
import { placementKey, rankReplicas, splitShares } from "../router/index.js";
import { deadlineIn, decode, encode, type MoeDispatch, type MoeResult, type WireDtype } from "../transport/index.js";
import { median } from "./stats.js";

/** Where experts live: (layer, expert) → hosts and replica weights, host name → index. */
export interface CallPlacement {
  readonly experts: readonly { readonly layer: number; readonly expert: number; readonly hosts: readonly string[]; readonly weights?: readonly number[] }[];
  readonly hosts: readonly string[];
}

/** One dispatch of a layer call: the message to one expert host. */
export interface CallDispatch {
  /** Index into {@link CallPlacement.hosts}. */
  readonly host: number;
  readonly message: MoeDispatch;
  readonly frame: Uint8Array;
  readonly result: MoeResult;
  readonly resultFrame: Uint8Array;
}

/** A layer call: rows [R, D] and its dispatches. */
export interface LayerCall {
  readonly layer: number;
  readonly rows: number;
  readonly m: Float32Array;
  readonly seq: Uint32Array;
  readonly pos: Uint32Array;
  readonly dispatches: readonly CallDispatch[];
}

/** Deterministic pseudo-normal rows [R, D] (scaled like normed hidden states). */
export function benchRows(R: number, D: number, seed: number): Float32Array {
  let x = seed >>> 0 || 1;
  const u = () => ((x = (x * 1664525 + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return Float32Array.from({ length: R * D }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

/** One expert's rows bound for one host (a run of a dispatch's `expert` column). */
interface Piece {
  readonly expert: number;
  readonly rows: Int32Array;
}

/**
 * Where an expert's `n` rows go, as RouterCore's `assign()` with every host healthy and idle: split by
 * the replica weights when it has several replicas and at least two get rows, else all to the first.
 * @returns [host, firstRow, endRow) triples
 */
function assign(x: CallPlacement["experts"][number], n: number): [string, number, number][] {
  const shares = x.weights && x.hosts.length > 1 ? splitShares(n, x.hosts, x.weights, () => true) : [];
  if (shares.filter((k) => k > 0).length < 2) return [[rankReplicas(x.hosts, new Map(), 0)[0]!, 0, n]];
  const out: [string, number, number][] = [];
  let a = 0;
  shares.forEach((k, i) => {
    if (k > 0) out.push([x.hosts[i]!, a, a + k]);
    a += k;
  });
  return out;
}

/** Build the call of `R` rows to `layer` (header fields filled in as RpcClient and the expert host fill them). */
export function layerCall(cfg: ModelConfig, router: Float32Array, layer: number, R: number, where: CallPlacement, wireDtype: WireDtype, seed: number): LayerCall {
  const D = cfg.dModel;
  const m = benchRows(R, D, seed);
  const seq = Uint32Array.from({ length: R }, (_, i) => 900_000 + i);
  const pos = new Uint32Array(R);
  const groups = groupByExpert(routeRows(m, router, cfg.nExperts, cfg.nExpertsUsed), cfg.nExperts);
  // group the layer's pieces by host, in the order the router meets them
  const byHost = new Map<string, Piece[]>();
  for (const g of groups) {
    const x = where.experts.find((e) => e.layer === layer && e.expert === g.expert);
    if (!x) throw new Error(`no host holds expert ${g.expert} of layer ${layer} (${placementKey(layer, g.expert)})`);
    for (const [host, a, b] of assign(x, g.rows.length)) {
      let list = byHost.get(host);
      if (!list) byHost.set(host, (list = []));
      list.push({ expert: g.expert, rows: g.rows.subarray(a, b) });
    }
  }
  const dispatches: CallDispatch[] = [];
  let id = 1_000_000;
  for (const [host, pieces] of byHost) {
    const rows = Int32Array.from(pieces.flatMap((p) => [...p.rows]));
    const expert = Uint32Array.from(pieces.flatMap((p) => Array.from(p.rows, () => p.expert)));
    const common = { layer, row: Uint32Array.from(rows), seq: Uint32Array.from(rows, (r) => seq[r]!), pos: Uint32Array.from(rows, (r) => pos[r]!), expert, dModel: D, wireDtype };
    const message: MoeDispatch = { kind: "moe.dispatch", ...common, hidden: gatherRows(m, D, rows), id, deadline: deadlineIn(10_000), sender: "bench-router" };
    const result: MoeResult = { kind: "moe.result", ...common, hidden: gatherRows(m, D, rows), id, sender: host };
    id++;
    dispatches.push({ host: where.hosts.indexOf(host), message, frame: encode(message), result, resultFrame: encode(result) });
  }
  return { layer, rows: R, m, seq, pos, dispatches };
}

/** Bytes of a call: dispatch frames out, result frames back. */
export function callBytes(c: LayerCall): { out: number; back: number } {
  return { out: c.dispatches.reduce((a, d) => a + d.frame.byteLength, 0), back: c.dispatches.reduce((a, d) => a + d.resultFrame.byteLength, 0) };
}

/** Median ms of `reps` runs of `f` (after one warm-up run). */
export function timeSync(reps: number, f: () => void): number {
  f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  return median(t);
}

/** Codec and router CPU costs of one call, ms (medians), measured without sockets. */
export interface CallCpu {
  /** Encode every dispatch of the call. */
  readonly encodeDispatch: number;
  /** Decode and validate every dispatch (what the expert hosts do). */
  readonly decodeDispatch: number;
  readonly encodeResult: number;
  /** Decode and validate every result (what the router does). */
  readonly decodeResult: number;
  /** Gate (f32 softmax, top-k), group, gather and combine in the router. */
  readonly route: number;
}

/** Time the codec and the router's own work for a call. */
export function callCpu(cfg: ModelConfig, router: Float32Array, c: LayerCall, reps: number): CallCpu {
  const expect = { dModel: cfg.dModel, kinds: ["moe.dispatch", "moe.result"] as const };
  const D = cfg.dModel;
  const outputs = new Map(groupByExpert(routeRows(c.m, router, cfg.nExperts, cfg.nExpertsUsed), cfg.nExperts).map((g) => [g.expert, benchRows(g.rows.length, D, g.expert + 1)] as const));
  return {
    encodeDispatch: timeSync(reps, () => c.dispatches.forEach((d) => encode(d.message))),
    decodeDispatch: timeSync(reps, () => c.dispatches.forEach((d) => decode(d.frame, { ...expect, kinds: ["moe.dispatch"] }))),
    encodeResult: timeSync(reps, () => c.dispatches.forEach((d) => encode(d.result))),
    decodeResult: timeSync(reps, () => c.dispatches.forEach((d) => decode(d.resultFrame, { ...expect, kinds: ["moe.result"] }))),
    route: timeSync(reps, () => {
      const routing = routeRows(c.m, router, cfg.nExperts, cfg.nExpertsUsed);
      const groups = groupByExpert(routing, cfg.nExperts);
      for (const g of groups) gatherRows(c.m, D, g.rows);
      combine(routing, groups, outputs, D);
    }),
  };
}
