/** Terminal summary of a report (pure: returns text; the CLI prints it). */
import { ERROR_KINDS } from "./errors.js";
import { loadText, promptText } from "./report-html.js";
import type { LatencyStats, LoadTestReport } from "./report-json.js";
import type { SweepReport } from "./report-sweep.js";

const f = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(digits));
const line = (label: string, value: string): string => `${label.padEnd(38)}${value.padStart(14)}`;
const rule = (title = ""): string => (title ? `${"=".repeat(Math.floor((52 - title.length - 2) / 2))} ${title} `.padEnd(52, "=") : "=".repeat(52));

function latencyBlock(title: string, s: LatencyStats): string[] {
  if (s.count === 0) return [rule(title), line("(no samples)", "")];
  return [rule(title), line("Mean (ms):", f(s.mean)), line("P50 (ms):", f(s.p50)), line("P90 (ms):", f(s.p90)), line("P99 (ms):", f(s.p99))];
}

/** A vLLM-style plain-text summary with server-side lines when `/metrics` was available. */
export function formatSummary(r: LoadTestReport): string {
  const s = r.summary;
  const c = r.config;
  const out: string[] = [
    rule("moe loadtest"),
    line("Model:", c.model),
    line("Endpoint:", c.endpoint === "chat" ? "/v1/chat/completions" : "/v1/completions"),
    line("Load:", loadText(c)),
    `Prompts: ${promptText(c.prompt)}`,
    line("Requests (completed/failed/total):", `${s.completed}/${s.failed}/${s.total}`),
    line("Duration (s):", f(s.durationS)),
    line("Input tokens:", String(s.inputTokens)),
    line("Output tokens:", String(s.outputTokens)),
    line("Request throughput (req/s):", f(s.requestThroughput)),
    line("Output token throughput (tok/s):", f(s.outputTokenThroughput)),
    line("Total token throughput (tok/s):", f(s.totalTokenThroughput)),
    line("Max requests in flight:", String(s.maxInFlight)),
  ];
  if (s.goodput) out.push(line("Goodput (req/s):", f(s.goodput.requestsPerS)), line("Requests meeting SLO:", `${s.goodput.good}/${s.completed}`));
  out.push(...latencyBlock("Time to First Token", r.latencyMs.ttft), ...latencyBlock("Time per Output Token (excl. 1st)", r.latencyMs.tpot));
  out.push(...latencyBlock("Inter-token Latency", r.latencyMs.itl), ...latencyBlock("End-to-end Latency", r.latencyMs.e2el));
  if (r.errors.total > 0) {
    out.push(rule("Errors"));
    for (const k of ERROR_KINDS) if (r.errors.byKind[k] > 0) out.push(line(`${k}:`, String(r.errors.byKind[k])));
    for (const e of r.errors.examples.slice(0, 3)) out.push(`  ${e.count}× ${e.kind}${e.status ? ` ${e.status}` : ""}: ${e.message.slice(0, 80)}`);
  }
  out.push(rule("Server (/metrics)"));
  const sv = r.server;
  if (!sv.available) out.push(`not available: ${sv.reason}`);
  else {
    out.push(line("Generated tokens (server):", sv.generatedTokens === null ? "n/a" : String(sv.generatedTokens)));
    if (sv.ttftMs) out.push(line("Server TTFT mean/p99 (ms):", `${f(sv.ttftMs.mean, 1)}/${f(sv.ttftMs.p99, 1)}`));
    if (sv.stages) for (const st of sv.stages) out.push(line(`Stage ${st.stage} @${st.host} busy (ms/token):`, f(st.busyMsPerToken, 3)));
    else out.push("stage busy time: not available");
    if (sv.experts) out.push(line("Expert load skew max/mean (worst layer):", f(sv.experts.maxSkew)), line("Expert load skew (mean over layers):", f(sv.experts.meanSkew)));
    else out.push("expert load: not available");
    if (sv.queueDepth) out.push(line("Queue depth max:", String(sv.queueDepth.reduce((a, p) => Math.max(a, p.value), 0))));
    if (sv.missing.length) out.push(`missing series: ${sv.missing.join(", ")}`);
  }
  out.push(rule());
  return out.join("\n");
}

/** The sweep's table: one row per load, then the knee. */
export function formatSweepSummary(sw: SweepReport): string {
  const unit = sw.variable === "rate" ? "req/s" : "workers";
  const cols = ["load", "ok/fail", "req/s", "out tok/s", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "E2E p50", "E2E p99"];
  const w = [10, 9, 8, 10, 9, 9, 9, 9, 9, 9];
  const fmtRow = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(" ");
  const out = [rule(`moe loadtest sweep (${sw.variable})`), `Model: ${sw.points[0]?.config.model ?? "n/a"}   latencies in ms, load in ${unit}`, fmtRow(cols)];
  for (const [i, c] of sw.curve.entries()) {
    const mark = sw.knee?.index === i ? "*" : "";
    out.push(fmtRow([`${c.load}${mark}`, `${c.completed}/${c.failed}`, f(c.requestsPerS), f(c.outputTokensPerS, 1), f(c.ttftMs.p50, 1), f(c.ttftMs.p99, 1), f(c.tpotMs.p50, 1), f(c.tpotMs.p99, 1), f(c.e2elMs.p50, 1), f(c.e2elMs.p99, 1)]));
  }
  out.push(sw.knee ? `* knee: ${sw.knee.load} ${unit} (${sw.knee.rule})` : "no knee: output throughput still rising at the highest load");
  out.push(rule());
  return out.join("\n");
}
