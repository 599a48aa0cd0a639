/**
 * The figures of `moe bench cluster`, as JSON (`--json`, schema
 * {@link CLUSTER_BENCH_SCHEMA}; `moe plan --calibrate` reads it) and as the
 * tables printed without `--json`. Times in ms, rates in tokens/s, sizes in bytes.
 */
import type { TraceBreakdown } from "./trace.js";
import { TRACE_PARTS } from "./trace.js";
import type { CallCpu } from "./moe-calls.js";

/** Version 2 added {@link DecodeRow.moeMsPerLayer} (the single process's in-step MoE), which `moe plan --calibrate` needs. */
export const CLUSTER_BENCH_SCHEMA = "moe-bench-cluster/2";

/** One decode measurement. */
export interface DecodeRow {
  readonly concurrency: number;
  readonly backend: "single" | "cluster";
  /** Micro-batches stepping at once (concurrency ÷ micro-batches sequences each). */
  readonly microBatches: number;
  /** Tokens/s over all sequences. */
  readonly tokensPerSecond: number;
  /** ms between two tokens of one sequence. */
  readonly msPerToken: number;
  /** tokensPerSecond ÷ the single process's at the same concurrency; null for the single process. */
  readonly clusterOverSingle: number | null;
  /**
   * CPU ms per generated token of each local cluster process and of this one ("bench": the single-process
   * engine, or the cluster's client), prompt and warm-up included (Linux /proc for the cluster's processes).
   */
  readonly cpuMsPerToken?: Readonly<Record<string, number>>;
  /** Tokens/s of every timed repetition, in order (the row reports the median); absent in files from before warmed, repeated runs. */
  readonly repetitions?: readonly number[];
  /**
   * Single process only: mean ms of one layer's MoE (routing, expert sessions, combine) inside its own decode
   * steps, from the same repetition as the rate (bench/in-step-moe.ts); the rest of the step is the stages'
   * own compute (attention, norms, embedding, head). Absent for the cluster rows.
   */
  readonly moeMsPerLayer?: number;
  /**
   * Cores busy during the row's runs (all repetitions, /proc/stat): the whole machine, and of that the
   * measured processes (the cluster's and this one); the rest is other work on the machine. Absent off Linux.
   */
  readonly machineCpu?: { readonly busyCores: number; readonly ownCores: number };
}

/** Round trip of one layer call, one layer. */
export interface RoundTripLayer {
  readonly layer: number;
  /** `moe.dispatch` messages of the call (= results back). */
  readonly messages: number;
  /** Distinct expert hosts the call reaches. */
  readonly hosts: number;
  /** Dispatch frames, all messages together. */
  readonly bytesOut: number;
  /** Result frames, all messages together. */
  readonly bytesBack: number;
  /** Router in this process → the cluster's expert hosts (median). */
  readonly clusterMs: number;
  readonly clusterMeanMs: number;
  /** The same MoE in this process (engine, no sockets). */
  readonly inProcessMs: number;
  /** The same frames through bare ZeroMQ to echo processes, one per expert host (median). */
  readonly rawMs: number;
  /** The same frames through bare ZeroMQ to echo sockets in this process. */
  readonly rawInProcessMs: number;
}

/** Round trips for one row count: medians over the layers, and each layer. */
export interface RoundTripRow extends Omit<RoundTripLayer, "layer"> {
  readonly rows: number;
  /** Median over the layers of clusterMs ÷ rawMs: the figure the target (≤ 3) is about. */
  readonly clusterOverRaw: number;
  /** Wire bytes (transport counters) per token, dispatch + result. */
  readonly wireBytesPerToken: number;
  /** Arrow payload per token: top-k × d_model × 4 B, out and back. */
  readonly payloadBytesPerToken: number;
  readonly layers: readonly RoundTripLayer[];
}

/** The pipeline's messages without compute (`seq.release`: a request and its reply to every stage at once). */
export interface PipelineRoundTrip {
  /** Median, ms. */
  readonly roundTripMs: number;
  readonly meanMs: number;
  /** Messages of one round trip: 2 × stages. */
  readonly messages: number;
  /** Of these, the messages one after the other (the critical path): 2, the stages answer in parallel; absent in files from before protocol v2 (a chain: all of them). */
  readonly sequential?: number;
}

/** Where one call's time goes, for one row count. */
export interface BreakdownRow {
  readonly rows: number;
  readonly messages: number;
  /** Medians of the traced critical-path intervals (add up to ≈ `traced.total`). */
  readonly traced: TraceBreakdown;
  /** Codec and router work of the call, timed without sockets. */
  readonly cpu: CallCpu;
  /** The same frames through bare ZeroMQ to one echo process (the traced host is one process). */
  readonly rawOneHostMs: number;
  /** One idle event-loop turn (setImmediate) in this process. */
  readonly eventLoopTurnMs: number;
}

/** The whole JSON. */
export interface ClusterBenchJson {
  readonly schema: typeof CLUSTER_BENCH_SCHEMA;
  readonly createdAt: string;
  readonly machine: { readonly cpus: number; readonly node: string; readonly platform: string; readonly arch: string; readonly loadAverage: readonly number[] };
  readonly model: { readonly name: string; readonly dModel: number; readonly layers: number; readonly experts: number; readonly expertsPerToken: number; readonly vocabSize: number };
  readonly cluster: { readonly file: string; readonly name: string; readonly stages: number; readonly expertHosts: number; readonly processes: number; readonly wireDtype: "f32" | "f16"; readonly threads: number };
  readonly settings: {
    readonly promptTokens: number;
    readonly warmupSteps: number;
    readonly decodeSteps: number;
    readonly roundTripCalls: number;
    readonly traceCalls: number;
    /** Untimed decode passes per backend before timing (absent: none, files from before). */
    readonly warmupRounds?: number;
    /** Timed repetitions per decode row, interleaved single / cluster; rows report the median (absent: 1). */
    readonly repetitions?: number;
    /** Slices the round trips and pipeline messages were sampled in, one after every decode repetition (absent: one pass after the decode runs). */
    readonly roundTripSlices?: number;
  };
  readonly decode: readonly DecodeRow[];
  readonly roundTrip: readonly RoundTripRow[];
  readonly pipeline: PipelineRoundTrip;
  readonly wire: { readonly bytesPerTokenPerLayer: number; readonly bytesPerProcessedTokenPerLayer: number; readonly payloadBytesPerTokenPerLayer: number };
  readonly breakdown: readonly BreakdownRow[];
}

/**
 * The socket path's time beyond bare ZeroMQ in a traced call, ms: the two hops
 * with their codec work (sendToReceipt + reply) less the raw round trip of the
 * same frames and the codec work timed alone (every dispatch encoded, the last
 * result encoded and decoded).
 */
export function hopsBeyondRaw(r: BreakdownRow): number {
  return r.traced.sendToReceipt + r.traced.reply - r.rawOneHostMs - r.cpu.encodeDispatch - (r.cpu.encodeResult + r.cpu.decodeResult) / r.messages;
}

const f = (x: number, d = 2) => x.toFixed(d);
const us = (ms: number) => (ms * 1000).toFixed(0);

function pad(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ")).join("\n");
}

/** The readable tables. */
export function formatClusterBench(j: ClusterBenchJson): string {
  const out: string[] = [];
  const c = j.cluster;
  out.push(
    `${j.model.name} (d_model ${j.model.dModel}, ${j.model.layers} layers, ${j.model.experts} experts, top-${j.model.expertsPerToken}); ${c.file}: ${c.stages} stages, ${c.expertHosts} expert hosts, ${c.processes} processes on 127.0.0.1 (${j.machine.cpus} CPUs), wire ${c.wireDtype}, ${c.threads} onnxruntime thread(s) per process; prompt ${j.settings.promptTokens}, ${j.settings.decodeSteps} timed decode steps after ${j.settings.warmupSteps} warm-up; ${j.settings.warmupRounds ?? 0} untimed warm-up passes per backend, median of ${j.settings.repetitions ?? 1} interleaved repetitions`,
  );
  out.push("\ndecode (tokens/s over all sequences; ms between two tokens of one sequence)");
  out.push(
    pad([
      ["concurrency", "backend", "micro-batches", "tokens/s", "ms/token", "cluster ÷ single", "MoE in step (ms/layer)", "every repetition (tokens/s)"],
      ...j.decode.map((d) => [String(d.concurrency), d.backend === "single" ? "single process" : "cluster", String(d.microBatches), f(d.tokensPerSecond, 1), f(d.msPerToken), d.clusterOverSingle === null ? "" : f(d.clusterOverSingle, 3), d.moeMsPerLayer === undefined ? "" : f(d.moeMsPerLayer, 3), (d.repetitions ?? []).map((x) => f(x, 0)).join(" ")]),
    ]),
  );
  const cpuRows = j.decode.filter((d) => d.cpuMsPerToken && Object.keys(d.cpuMsPerToken).length);
  if (cpuRows.length) {
    const names = [...new Set(cpuRows.flatMap((d) => Object.keys(d.cpuMsPerToken!)))];
    out.push("\nCPU ms per generated token during the decode runs, by process (\"bench\": this one — the single-process engine, or the cluster's client), prompt and warm-up steps included, mean over the repetitions (/proc, 10 ms ticks)");
    out.push(
      pad([
        ["concurrency", "backend", "micro-batches", ...names, "total", "machine busy cores", "of which ours"],
        ...cpuRows.map((d) => [
          String(d.concurrency),
          d.backend,
          String(d.microBatches),
          ...names.map((n) => (d.cpuMsPerToken![n] === undefined ? "" : f(d.cpuMsPerToken![n]!))),
          f(Object.values(d.cpuMsPerToken!).reduce((a, x) => a + x, 0)),
          d.machineCpu ? f(d.machineCpu.busyCores) : "",
          d.machineCpu ? f(d.machineCpu.ownCores) : "",
        ]),
      ]),
    );
  }
  out.push(`\none dispatch + combine per layer (median of ${j.settings.roundTripCalls} calls, ms): router here → the cluster's expert hosts, vs the same MoE in process, vs the same frames through bare ZeroMQ (echo processes, one per expert host; echo sockets in this process)`);
  const rt: string[][] = [["rows", "layer", "msgs", "hosts", "B out", "B back", "cluster", "(mean)", "in-process", "raw ZMQ", "raw in-proc", "cluster ÷ raw"]];
  for (const r of j.roundTrip) {
    for (const l of r.layers) rt.push([String(r.rows), String(l.layer), String(l.messages), String(l.hosts), String(l.bytesOut), String(l.bytesBack), f(l.clusterMs, 3), f(l.clusterMeanMs, 3), f(l.inProcessMs, 3), f(l.rawMs, 3), f(l.rawInProcessMs, 3), f(l.clusterMs / l.rawMs)]);
    rt.push([String(r.rows), "median", f(r.messages, 1), f(r.hosts, 1), f(r.bytesOut, 0), f(r.bytesBack, 0), f(r.clusterMs, 3), f(r.clusterMeanMs, 3), f(r.inProcessMs, 3), f(r.rawMs, 3), f(r.rawInProcessMs, 3), f(r.clusterOverRaw)]);
  }
  out.push(pad(rt));
  out.push(
    `\npipeline messages without compute (seq.release to ${c.stages} stages at once and their replies, ${j.pipeline.messages} messages, ${j.pipeline.sequential ?? j.pipeline.messages} one after the other): ${f(j.pipeline.roundTripMs, 3)} ms median, ${f(j.pipeline.meanMs, 3)} ms mean; a decode step takes ${c.stages + 1} one-way pipeline messages in a row`,
  );
  out.push(
    "\nwire bytes per token per layer: " +
      j.roundTrip.map((r) => `${r.rows} row(s) per call ${f(r.wireBytesPerToken, 0)} B (${f(r.wireBytesPerToken / r.payloadBytesPerToken, 3)}× the Arrow payload ${f(r.payloadBytesPerToken, 0)} B)`).join("; ") +
      `; during the cluster decode runs ${f(j.wire.bytesPerTokenPerLayer, 0)} B per generated token (${f(j.wire.bytesPerProcessedTokenPerLayer, 0)} B per processed token, prompts included)`,
  );
  out.push("\nwhere one dispatch + combine goes: a real RpcClient here → a child process serving it like an expert host (RpcServer, batch on the next turn, onnxruntime), both stamping CLOCK_MONOTONIC; the critical path (last reply) cut into intervals, medians in µs");
  const rows = j.breakdown;
  const b: string[][] = [["interval", ...rows.map((r) => `${r.rows} row(s), ${r.messages} msg`), "what"]];
  for (const [p, what] of TRACE_PARTS) b.push([p, ...rows.map((r) => us(r.traced[p])), what]);
  b.push(["total (traced)", ...rows.map((r) => us(r.traced.total)), "median call"]);
  b.push(["raw ZeroMQ, same frames", ...rows.map((r) => us(r.rawOneHostMs)), "bare DEALER → echo process → DEALER"]);
  b.push(["hops beyond raw ZeroMQ", ...rows.map((r) => us(hopsBeyondRaw(r))), "sendToReceipt + reply − raw − codec (encode dispatches, encode + decode one result): send queue, receive loops, settling, extra wake-ups"]);
  b.push(["  encode dispatches", ...rows.map((r) => us(r.cpu.encodeDispatch)), "timed without sockets (all messages of the call)"]);
  b.push(["  decode dispatches", ...rows.map((r) => us(r.cpu.decodeDispatch)), "  with validation"]);
  b.push(["  encode results", ...rows.map((r) => us(r.cpu.encodeResult)), ""]);
  b.push(["  decode results", ...rows.map((r) => us(r.cpu.decodeResult)), "  with validation"]);
  b.push(["  router gate/group/combine", ...rows.map((r) => us(r.cpu.route)), "not in the traced total; in the cluster round trip"]);
  b.push(["  one event-loop turn", ...rows.map((r) => us(r.eventLoopTurnMs)), "idle setImmediate in this process"]);
  out.push(pad(b));
  return out.join("\n");
}
