/** Human-readable tables for `moe plan`: the plan, the comparison, the minimum cluster. */
import type { CompareRow } from "./baselines.js";
import type { Calibration } from "./calibrate.js";
import type { CostOptions } from "./cost-options.js";
import type { MinClusterResult } from "./fixes.js";
import type { PlanJson } from "./types.js";
import { formatBytes, formatSeconds } from "./units.js";

/** Left-aligned text table; numeric-looking columns right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const width = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)));
  const right = header.map((_, c) => rows.length > 0 && rows.every((r) => /^[-+]?[\d.,]+(\s|$)|^[\d.]+ ?[a-zµ]*\s*\/|^—$/.test(r[c] ?? "")));
  const line = (r: readonly string[]) =>
    r
      .map((cell, c) => (right[c] ? cell.padStart(width[c]!) : cell.padEnd(width[c]!)))
      .join("  ")
      .trimEnd();
  return [line(header), line(width.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const tps = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

/** The plan as a report: header, per-host table, totals, bottleneck or shortfall. */
export function formatPlan(p: PlanJson): string {
  const w = p.workload;
  const out: string[] = [];
  out.push(
    `${p.model.name} (${p.model.layers} layers × ${p.model.experts} experts, top-${p.model.expertsPerToken}) at ${p.dtype} on ${p.cluster} — ${p.placement === "explicit" ? "explicit placement from the cluster file" : "planned"}`,
    `weights ${formatBytes(p.model.weightBytes)} (one expert ${formatBytes(p.model.expertBytes)}), KV cache ${int(p.model.kvBytesPerToken)} B per token; context ${w.context}, concurrency ${w.concurrency}, prompt ${w.promptTokens}`,
    "",
  );
  const rows = p.hosts.map((h) => [
    h.name,
    h.device ?? "custom",
    h.roles.length ? h.roles.join(",") : "—",
    h.layers ? (h.layers[1] - h.layers[0] === 1 ? String(h.layers[0]) : `${h.layers[0]}–${h.layers[1] - 1}`) : "—",
    h.expertSlots ? String(h.expertSlots) : "—",
    `${formatBytes(h.memory.usedBytes)} / ${formatBytes(h.memory.capacityBytes)}`,
    formatBytes(h.memory.freeBytes),
    h.busySecondsPerToken ? formatSeconds(h.busySecondsPerToken) : "—",
  ]);
  if (!p.fits && p.placement === "planner") {
    const mem = p.hosts.map((h) => [h.name, h.device ?? "custom", formatBytes(h.memory.capacityBytes), formatBytes(h.memory.freeBytes)]);
    out.push(table(["host", "device", "capacity", "usable"], mem), "");
  } else out.push(table(["host", "device", "roles", "layers", "experts", "memory used / capacity", "free", "busy/token"], rows), "");
  if (!p.fits) {
    const s = p.shortfall!;
    out.push(`DOES NOT FIT: ${s.reason}`);
    out.push(`missing: ${formatBytes(s.missingBytes)} (needs ${formatBytes(s.neededBytes)}, usable ${formatBytes(s.availableBytes)})`);
    if (s.fixes.length) {
      const [first, ...rest] = s.fixes;
      out.push(`smallest change: ${first!.change} — ${first!.description}; then ${tps(first!.decodeTokensPerSecond)} tok/s per sequence`);
      for (const f of rest) out.push(`   or: ${f.change} — ${f.description}; then ${tps(f.decodeTokensPerSecond)} tok/s per sequence`);
    } else out.push("no single change among concurrency, context, dtype or added hosts makes it fit");
    return out.join("\n");
  }
  const d = p.predicted;
  const b = d.breakdown;
  out.push(
    `decode       ${tps(d.decodeTokensPerSecond)} tok/s per sequence, ${tps(d.decodeTokensPerSecondAggregate)} tok/s aggregate at concurrency ${w.concurrency} (${d.microBatches} micro-batch${d.microBatches > 1 ? "es" : ""} of ${d.microBatchSize}); one sequence alone: ${formatSeconds(d.decodeSecondsPerToken)}/token`,
    `first token  ${formatSeconds(d.ttftSeconds)} for a ${w.promptTokens}-token prompt`,
    `KV capacity  ${int(d.kvCapacityTokens)} tokens = ${int(d.maxConcurrentSequences)} sequences of ${w.context} tokens`,
    `per token    experts ${formatSeconds(b.expertSeconds)}, stages ${formatSeconds(b.stageSeconds)} + unembedding ${formatSeconds(b.headSeconds)}, network ${formatSeconds(b.networkSeconds)} + message software ${formatSeconds(b.softwareSeconds)}`,
    `bottleneck   ${d.bottleneck.kind}${d.bottleneck.host ? ` (${d.bottleneck.host})` : ""}: ${d.bottleneck.reason}`,
    ...p.notes.map((n) => `note         ${n}`),
    `assumes      ${Math.round(p.assumptions.bandwidthEfficiency * 100)}% of peak memory bandwidth, ${Math.round(p.assumptions.computeEfficiency * 100)}% of peak FLOP/s, ${Math.round(p.assumptions.headroomFraction * 100)}% memory headroom, f${p.assumptions.kvBytesPerElement * 8} KV cache, f${p.assumptions.wireBytesPerElement * 8} on the wire`,
    `             ${formatAssumedSoftware(p.assumptions)}`,
  );
  if (p.assumptions.calibration) out.push(...formatCalibration(p.assumptions.calibration));
  return out.join("\n");
}

/** The software terms of the cost model in one line. */
function formatAssumedSoftware(a: CostOptions): string {
  const x = a.computeScale === 1 && a.expertComputeScale === 1 ? "" : `stage compute ×${a.computeScale.toFixed(2)}, expert compute ×${a.expertComputeScale.toFixed(2)}, `;
  const cores = a.machineCores > 0 ? `; hosts at one address share ${a.machineCores} cores` : "";
  return `${x}${formatSeconds(a.stageLayerSeconds)} per stage layer, ${formatSeconds(a.sessionSeconds)} per expert run; software per message ${formatSeconds(a.messageSeconds)} + ${(a.messageSecondsPerByte * 1e9).toFixed(2)} ns/byte (pipeline ${formatSeconds(a.pipelineMessageSeconds)}), one dispatch per ${a.dispatchPer === "host" ? "expert host" : "expert"} and layer${cores}`;
}

/** The calibration's source and its check, predicted against measured. */
function formatCalibration(c: Calibration): string[] {
  const busy = c.loadAverage > c.cpus ? `; the machine was busy (load average ${c.loadAverage.toFixed(1)} on ${c.cpus} CPUs): rerun the bench when it is quiet` : `, load average ${c.loadAverage.toFixed(1)}`;
  const out = [`calibrated   from ${c.source} (${c.benchCreatedAt}, ${c.benchCluster}${busy}); checked at context ${c.context}:`];
  for (const k of c.check)
    out.push(
      `             concurrency ${k.concurrency}: predicted ${tps(k.predictedTokensPerSecond)} tok/s, measured ${tps(k.measuredTokensPerSecond)} (${k.microBatches} micro-batch${k.microBatches > 1 ? "es" : ""}; ${k.error >= 0 ? "+" : ""}${(100 * k.error).toFixed(0)}%)${k.bestMeasuredTokensPerSecond > k.measuredTokensPerSecond ? `; best measured ${tps(k.bestMeasuredTokensPerSecond)}` : ""}`,
    );
  return out;
}

/** `--compare`: the planner against the uniform and memory-proportional splits. */
export function formatCompare(rows: readonly CompareRow[]): string {
  const base = rows[0]!;
  const body = rows.map((r) => [
    r.name,
    r.fits ? "yes" : `no (${r.overfull.join(", ") || "—"})`,
    formatSeconds(r.decodeSecondsPerToken),
    tps(r.decodeTokensPerSecond),
    tps(r.decodeTokensPerSecondAggregate),
    formatSeconds(r.ttftSeconds),
    r.fits ? int(r.kvCapacityTokens) : "—",
    r === base ? "—" : `${(r.decodeSecondsPerToken / base.decodeSecondsPerToken).toFixed(2)}×`,
  ]);
  const notes = rows.map((r) => `  ${r.name}: ${r.description}`);
  return [table(["split", "fits", "decode/token", "tok/s/seq", "tok/s total", "first token", "KV tokens", "vs planner"], body), "", ...notes].join("\n");
}

/** `--min-cluster`: how many devices, then the plan. */
export function formatMinCluster(r: MinClusterResult, modelName: string, dtype: string): string {
  if (r.count === null || !r.plan) return `${modelName} at ${dtype} does not fit on any number of ${r.device} that was tried`;
  return `${modelName} at ${dtype} needs ${r.count}× ${r.device}\n\n${formatPlan(r.plan)}`;
}
