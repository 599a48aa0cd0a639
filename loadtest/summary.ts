/** Terminal summary of a report (pure: returns text; the CLI prints it). */
import { ERROR_KINDS } from "./errors.js";
import type { LatencyStats, LoadTestReport } from "./report-json.js";

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
  const load = c.mode === "closed" ? `closed loop, ${c.concurrency} workers` : `open loop, ${c.rate} req/s, burstiness ${c.burstiness}`;
  const out: string[] = [
    rule("moe loadtest"),
    line("Model:", c.model),
    line("Load:", load),
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
