/**
 * The HTML report: one self-contained file (inline CSS, inline SVG drawn by svg.ts, a few lines
 * of inline script that only count the drawn plots; a CSP forbids any network access), rendered
 * from a {@link LoadTestReport}. Pure.
 */
import { ERROR_KINDS } from "./errors.js";
import type { LatencyStats, LoadTestReport } from "./report-json.js";
import { esc, fmt, heatmap, hbars, lineChart, type Series } from "./svg.js";

/** Series colours, also what the headless-browser test looks for in the screenshot. */
export const PLOT_COLORS = Object.freeze({
  ttft: "#1f77b4",
  tpot: "#ff7f0e",
  itl: "#2ca02c",
  e2el: "#d62728",
  tokens: "#9467bd",
  serverTokens: "#8c564b",
  inFlight: "#7f7f7f",
  queue: "#e377c2",
  running: "#17becf",
  stage: "#4c78a8",
});

const CSS = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:1200px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d5d8de;padding-bottom:4px}
.sub{color:#5b6373;margin-bottom:12px}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:10px}
.card{background:#fff;border:1px solid #dde0e6;border-radius:6px;padding:10px 12px}
.card b{display:block;font-size:20px}.card span{color:#5b6373;font-size:12px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.box{background:#fff;border:1px solid #dde0e6;border-radius:6px;padding:6px;overflow-x:auto;margin-bottom:12px}
table{border-collapse:collapse;background:#fff;font-variant-numeric:tabular-nums;margin:4px 0}
th,td{border:1px solid #dde0e6;padding:4px 10px;text-align:right}th{background:#eef0f4}td:first-child,th:first-child{text-align:left}
.na{color:#8a5a00;background:#fff8e6;border:1px solid #f0d9a0;border-radius:6px;padding:10px 12px}
svg text{font:12px system-ui,sans-serif;fill:#333}svg text.t{font-weight:600;font-size:14px}svg text.ax{fill:#555}svg text.na{fill:#a66}
svg .g{stroke:#e6e8ec;stroke-width:1}svg .frame{fill:none;stroke:#9aa0aa}
footer{color:#7a8190;font-size:12px;margin-top:30px}
table.left td:last-child{text-align:left}
`;

// Counts drawn plots (shown SVGs, not inside a closed <details>, with a non-empty series path or cells) into <html data-plots-rendered>.
const SCRIPT = `(function(){var n=0;document.querySelectorAll('svg.plot').forEach(function(s){if(s.closest('details:not([open])')||s.getClientRects().length===0)return;var ok=false;s.querySelectorAll('path.series,rect.cell').forEach(function(p){var b=p.getBBox();if(b.width>0||b.height>0)ok=true});if(ok)n++});document.documentElement.setAttribute('data-plots-rendered',String(n));})();`;

export const n2 = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(d));
export const card = (value: string, label: string): string => `<div class="card"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
export const na = (what: string, why: string): string => `<div class="na">${esc(what)}: not available — ${esc(why)}</div>`;
export const row = (cells: readonly string[], th = false): string => `<tr>${cells.map((c) => (th ? `<th>${c}</th>` : `<td>${c}</td>`)).join("")}</tr>`;

function latencyTable(r: LoadTestReport): string {
  const rows: Array<[string, LatencyStats]> = [["TTFT", r.latencyMs.ttft], ["TPOT", r.latencyMs.tpot], ["ITL", r.latencyMs.itl], ["E2E latency", r.latencyMs.e2el]];
  const body = rows.map(([k, s]) => row([k, String(s.count), n2(s.mean), n2(s.p50), n2(s.p90), n2(s.p99), n2(s.max)]));
  for (const [k, h] of [["server TTFT (histogram)", r.server.ttftMs], ["server ITL (histogram)", r.server.itlMs]] as const) if (h) body.push(row([k, String(h.count), n2(h.mean), n2(h.p50), n2(h.p90), n2(h.p99), "–"]));
  return `<table>${row(["metric (ms)", "samples", "mean", "p50", "p90", "p99", "max"], true)}${body.join("")}</table>`;
}

function cdfSection(r: LoadTestReport): string {
  const one = (title: string, pts: ReadonlyArray<[number, number]>, color: string): string =>
    `<div class="box">${lineChart({ title: `${title} CDF`, xLabel: "milliseconds", yLabel: "fraction of samples ≤ x", yRange: [0, 1], series: [{ name: title, color, points: pts.length ? [[pts[0]![0], 0] as const, ...pts] : [], step: true }] })}</div>`;
  return `<div class="grid2">${one("TTFT", r.cdf.ttft, PLOT_COLORS.ttft)}${one("TPOT", r.cdf.tpot, PLOT_COLORS.tpot)}${one("ITL", r.cdf.itl, PLOT_COLORS.itl)}${one("E2E latency", r.cdf.e2el, PLOT_COLORS.e2el)}</div>`;
}

function throughputSection(r: LoadTestReport): string {
  const half = r.timeline.binS / 2;
  const series: Series[] = [{ name: "output tokens/s (client)", color: PLOT_COLORS.tokens, points: r.timeline.outputTokensPerS.map((p) => [p.tS + half, p.perS] as const) }];
  if (r.server.tokensPerS) series.push({ name: "generated tokens/s (server)", color: PLOT_COLORS.serverTokens, dashed: true, points: r.server.tokensPerS.map((p) => [p.tS, p.value] as const) });
  const flight: Series = { name: "requests in flight", color: PLOT_COLORS.inFlight, points: r.timeline.inFlight.map((p) => [p.tS, p.value] as const) };
  return `<div class="box">${lineChart({ title: "Output tokens/s over time", xLabel: "seconds since start", yLabel: "tokens/s", series, width: 1160 })}</div>` +
    `<div class="box">${lineChart({ title: "Requests in flight over time", xLabel: "seconds since start", yLabel: "requests", series: [flight], width: 1160, height: 220 })}</div>`;
}

function serverSection(r: LoadTestReport): string {
  const sv = r.server;
  if (!sv.available) return na("server metrics (/metrics)", sv.reason ?? "unknown");
  const parts: string[] = [];
  const q: Series[] = [];
  if (sv.queueDepth) q.push({ name: "queue depth", color: PLOT_COLORS.queue, points: sv.queueDepth.map((p) => [p.tS, p.value] as const) });
  if (sv.runningSequences) q.push({ name: "running sequences", color: PLOT_COLORS.running, points: sv.runningSequences.map((p) => [p.tS, p.value] as const) });
  parts.push(q.length ? `<div class="box">${lineChart({ title: "Gateway queue depth over time", xLabel: "seconds since start", yLabel: "sequences", series: q, width: 1160, height: 260 })}</div>` : na("queue depth", "moe_queue_depth / moe_running_sequences missing"));
  if (sv.experts) {
    const cols = [...new Set(sv.experts.layers.flatMap((l) => l.experts))];
    const rows = sv.experts.layers.map((l) => ({ label: `layer ${l.layer}`, values: cols.map((e) => l.tokens[l.experts.indexOf(e)] ?? 0), note: `skew ${n2(l.skew)}` }));
    parts.push(`<h2>Per-expert load</h2><p class="sub">Tokens routed to each (layer, expert) during the run; colour = load ÷ layer mean; skew = max ÷ mean (1 = balanced). Worst layer skew ${n2(sv.experts.maxSkew)}, mean ${n2(sv.experts.meanSkew)}.</p>`);
    parts.push(`<div class="box">${heatmap("Expert load (tokens routed) per layer", cols, rows)}</div>`);
  } else parts.push(na("per-expert load", "moe_expert_tokens_total missing"));
  if (sv.stages) {
    const basis = sv.perTokenBasis === "server" ? "server-generated" : "client-received";
    parts.push(`<h2>Per-stage busy time</h2><p class="sub">Δ moe_stage_busy_seconds_total per ${basis} token, and busy ÷ wall time.</p>`);
    parts.push(`<div class="box">${hbars("Busy ms per generated token", sv.stages.map((s) => ({ label: `stage ${s.stage} @ ${s.host}`, value: s.busyMsPerToken ?? 0, text: `${n2(s.busyMsPerToken, 3)} ms/token · ${n2(s.utilization * 100, 0)}% busy` })), PLOT_COLORS.stage)}</div>`);
  } else parts.push(na("per-stage busy time", "moe_stage_busy_seconds_total missing"));
  if (sv.hostErrors) parts.push(`<table>${row(["host", "errors during run"], true)}${sv.hostErrors.map((h) => row([esc(h.host), fmt(h.errors)])).join("")}</table>`);
  if (sv.missing.length) parts.push(`<p class="sub">Series not exported by this gateway: ${esc(sv.missing.join(", "))}.</p>`);
  return parts.join("");
}

function errorsSection(r: LoadTestReport): string {
  if (r.errors.total === 0) return `<p>No failed requests.</p>`;
  const kinds = ERROR_KINDS.filter((k) => r.errors.byKind[k] > 0).map((k) => row([k, String(r.errors.byKind[k])]));
  const ex = r.errors.examples.map((e) => row([e.kind, e.status === null ? "–" : String(e.status), String(e.count), esc(e.message)]));
  return `<table>${row(["kind", "count"], true)}${kinds.join("")}</table><table class="left">${row(["kind", "status", "count", "message"], true)}${ex.join("")}</table>`;
}

/** "closed loop, 4 workers" / "open loop, 2 req/s, burstiness 1, at most 8 in flight". */
export function loadText(c: LoadTestReport["config"]): string {
  if (c.mode === "closed") return `closed loop, ${c.concurrency} workers`;
  return `open loop, ${c.rate} req/s, burstiness ${c.burstiness}${c.maxConcurrency !== null ? `, at most ${c.maxConcurrency} in flight` : ""}`;
}

/** How the prompts were made, in words. */
export function promptText(p: LoadTestReport["config"]["prompt"]): string {
  if (p.kind === "token-ids") return `token ids in [${p.vocabRange.lo}, ${p.vocabRange.hi})`;
  if (p.kind === "text") return `text from ${p.tokenizer}`;
  return `${p.format} dataset ${p.file}: ${p.used} of ${p.entries} entries used, ${p.skipped} skipped${p.tokenizer ? `, lengths by ${p.tokenizer}` : ""}`;
}

function configTable(r: LoadTestReport): string {
  const c = r.config;
  const slo = c.slo ? Object.entries(c.slo).map(([k, v]) => `${k.replace(/Ms$/, "")} ≤ ${v} ms`).join(", ") : "none";
  const auth = `${c.auth.apiKey ? "API key" : "no API key"}${c.auth.headers.length ? `; headers ${c.auth.headers.join(", ")}` : ""}`;
  const items: Array<[string, string]> = [["gateway", c.url], ["model", c.model], ["endpoint", c.endpoint === "chat" ? "/v1/chat/completions" : "/v1/completions"], ["load", loadText(c)], ["requests", String(c.requests)], ["warm-up requests", String(c.warmup)], ["prompt tokens", `${c.promptTokens.mean} ± ${c.promptTokens.stddev}`], ["max tokens", `${c.maxTokens.mean} ± ${c.maxTokens.stddev}`], ["prompts", promptText(c.prompt)], ["auth", auth], ["ignore_eos", String(c.ignoreEos)], ["temperature / top_p", `${c.temperature} / ${c.topP}`], ["seed", String(c.seed)], ["timeout", `${c.timeoutS} s`], ["SLO", slo]];
  return `<table class="left">${items.map(([k, v]) => row([esc(k), esc(v)])).join("")}</table>`;
}

/** The report's sections (everything under the title), for a page of its own or inside a sweep's. */
export function reportSections(r: LoadTestReport): string {
  const s = r.summary;
  const cards = [
    card(n2(s.requestThroughput), "requests/s"), card(n2(s.outputTokenThroughput, 1), "output tokens/s"),
    card(s.goodput ? n2(s.goodput.requestsPerS) : "–", s.goodput ? "goodput req/s (meets SLO)" : "goodput (no --slo)"),
    card(n2(r.latencyMs.ttft.p50, 1), "TTFT p50 ms"), card(n2(r.latencyMs.tpot.p50, 2), "TPOT p50 ms"),
    card(`${s.completed}/${s.total}`, `completed (${r.errors.total} errors)`),
  ].join("");
  return `<div class="cards">${cards}</div>
<h2>Latency</h2>${latencyTable(r)}
${cdfSection(r)}
<h2>Throughput</h2>
<table>${row(["completed / failed / cancelled", "input tokens", "output tokens", "req/s", "output tok/s", "total tok/s", "max in flight"], true)}${row([`${s.completed} / ${s.failed} / ${s.cancelled}`, String(s.inputTokens), String(s.outputTokens), n2(s.requestThroughput), n2(s.outputTokenThroughput), n2(s.totalTokenThroughput), String(s.maxInFlight)])}</table>
${throughputSection(r)}
<h2>Server side (/metrics)</h2>
${serverSection(r)}
<h2>Errors</h2>${errorsSection(r)}
<h2>Configuration</h2>${configTable(r)}`;
}

/** Metric conventions, the footer of every page. */
export const CONVENTIONS = "TTFT: first text chunk − send. ITL: gap between successive text chunks (one per chunk). TPOT: (E2E − TTFT) ÷ (output tokens − 1). E2E: [DONE] − send. Percentiles exact (linear interpolation). Generated by moe loadtest; this file needs no network.";

/** A self-contained page: inline CSS, the plot-counting script, a CSP that forbids any network access. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><main>
${body}
<footer>${esc(CONVENTIONS)}</footer>
</main><script>${SCRIPT}</script></body></html>
`;
}

/** Render the report as one self-contained HTML document. */
export function renderHtml(r: LoadTestReport): string {
  const head = `<h1>moe loadtest report</h1>
<div class="sub">${esc(r.config.model)} at ${esc(r.config.url)} · ${esc(r.config.endpoint)} · ${esc(loadText(r.config))} · ${esc(r.createdAt)} · ${n2(r.summary.durationS, 1)} s · schema ${esc(r.schema)}</div>`;
  return htmlPage(`moe loadtest — ${r.config.model} — ${r.createdAt}`, `${head}\n${reportSections(r)}`);
}
