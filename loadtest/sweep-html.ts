/**
 * The sweep's HTML page (pure, self-contained like the single-run report): throughput and latency
 * percentiles against load with the knee marked, latency against throughput, server-side stage
 * time and expert skew per point, and each point's full report in a collapsed section.
 */
import { PLOT_COLORS, card, htmlPage, loadText, n2, na, promptText, reportSections, row } from "./report-html.js";
import type { CurvePoint, Percentiles, SweepReport } from "./report-sweep.js";
import { esc, lineChart, type Series } from "./svg.js";

/** Colours of the percentile lines (also what the headless-browser test looks for). */
export const PERCENTILE_COLORS = Object.freeze({ p50: "#1f77b4", p90: "#ff7f0e", p99: "#d62728" });

/** "2 req/s", "inf req/s" or "16 workers". */
export function loadLabel(load: number | "inf", variable: SweepReport["variable"]): string {
  return variable === "rate" ? `${load} req/s` : `${load} workers`;
}

const ms = (p: Percentiles): string => `${n2(p.p50, 1)} / ${n2(p.p90, 1)} / ${n2(p.p99, 1)}`;

function curveTable(sw: SweepReport): string {
  const head = row(["load", "completed / failed", "req/s", "output tok/s", "server tok/s", "goodput req/s", "TTFT p50/p90/p99 ms", "TPOT p50/p90/p99 ms", "ITL p50/p90/p99 ms", "E2E p50/p90/p99 ms", "max queue"], true);
  const rows = sw.curve.map((c, i) =>
    row([
      `${esc(loadLabel(c.load, sw.variable))}${sw.knee?.index === i ? " ◀ knee" : ""}`, `${c.completed} / ${c.failed}`, n2(c.requestsPerS), n2(c.outputTokensPerS, 1),
      n2(c.serverTokensPerS, 1), n2(c.goodputPerS), ms(c.ttftMs), ms(c.tpotMs), ms(c.itlMs), ms(c.e2elMs), c.maxQueueDepth === null ? "n/a" : String(c.maxQueueDepth),
    ]),
  );
  return `<table>${head}${rows.join("")}</table>`;
}

/** Charts of the curve against load: x is the point's position, labelled with its load. */
function curveCharts(sw: SweepReport): string {
  const xTicks = sw.curve.map((c, i) => [i, String(c.load)] as const);
  const marks = sw.knee ? [[sw.knee.index, "knee"] as const] : [];
  const xLabel = sw.variable === "rate" ? "offered load (requests/s)" : "offered load (concurrent workers)";
  const at = (f: (c: CurvePoint) => number | null): Array<readonly [number, number]> =>
    sw.curve.flatMap((c, i) => (f(c) === null || !Number.isFinite(f(c)!) ? [] : [[i, f(c)!] as const]));
  const chart = (title: string, yLabel: string, series: Series[]): string => `<div class="box">${lineChart({ title, xLabel, yLabel, series, xTicks, marks, width: 575, height: 300 })}</div>`;
  const pcts = (f: (c: CurvePoint) => Percentiles): Series[] =>
    (["p50", "p90", "p99"] as const).map((k) => ({ name: k, color: PERCENTILE_COLORS[k], markers: true, points: at((c) => f(c)[k]) }));
  const tokens: Series[] = [{ name: "client", color: PLOT_COLORS.tokens, markers: true, points: at((c) => c.outputTokensPerS) }];
  if (sw.curve.some((c) => c.serverTokensPerS !== null)) tokens.push({ name: "server (/metrics)", color: PLOT_COLORS.serverTokens, dashed: true, markers: true, points: at((c) => c.serverTokensPerS) });
  const reqs: Series[] = [{ name: "completed", color: PLOT_COLORS.inFlight, markers: true, points: at((c) => c.requestsPerS) }];
  if (sw.curve.some((c) => c.goodputPerS !== null)) reqs.push({ name: "meeting the SLO", color: PLOT_COLORS.running, markers: true, points: at((c) => c.goodputPerS) });
  const tput = sw.curve.map((c) => c.outputTokensPerS);
  const vsTput = (k: "p50" | "p99"): Series => ({ name: `TTFT ${k}`, color: PERCENTILE_COLORS[k], markers: true, points: sw.curve.flatMap((c, i) => (c.ttftMs[k] === null ? [] : [[tput[i]!, c.ttftMs[k]!] as const])) });
  return `<div class="grid2">
${chart("Output tokens/s against load", "tokens/s", tokens)}${chart("Requests/s against load", "requests/s", reqs)}
${chart("Time to first token against load", "ms", pcts((c) => c.ttftMs))}${chart("Time per output token against load", "ms", pcts((c) => c.tpotMs))}
${chart("Inter-token latency against load", "ms", pcts((c) => c.itlMs))}${chart("End-to-end latency against load", "ms", pcts((c) => c.e2elMs))}
</div><div class="box">${lineChart({ title: "Latency against throughput (one dot per load)", xLabel: "output tokens/s", yLabel: "TTFT ms", series: [vsTput("p50"), vsTput("p99")], width: 1160, height: 300 })}</div>`;
}

/** Server side per point: stage busy ms/token (one chart line per stage), expert skew, server TTFT. */
function serverSection(sw: SweepReport): string {
  const servers = sw.points.map((p) => p.server);
  if (!servers.some((s) => s.available)) return na("server metrics (/metrics)", servers[0]?.reason ?? "no point was scraped");
  const stageKeys = [...new Set(servers.flatMap((s) => (s.stages ?? []).map((st) => `stage ${st.stage} @ ${st.host}`)))];
  const palette = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#9d755d", "#bab0ac"];
  const busy = (i: number, key: string): number | null => {
    const st = servers[i]!.stages?.find((x) => `stage ${x.stage} @ ${x.host}` === key);
    return st?.busyMsPerToken ?? null;
  };
  const head = row(["load", "generated tokens", ...stageKeys.map((k) => `${esc(k)} ms/token`), "expert skew (worst layer)", "server TTFT p50/p99 ms", "missing series"], true);
  const rows = sw.points.map((p, i) => {
    const s = p.server;
    if (!s.available) return row([esc(loadLabel(sw.curve[i]!.load, sw.variable)), `not available: ${esc(s.reason ?? "")}`]);
    return row([
      esc(loadLabel(sw.curve[i]!.load, sw.variable)), s.generatedTokens === null ? "n/a" : String(s.generatedTokens), ...stageKeys.map((k) => n2(busy(i, k), 3)),
      n2(s.experts?.maxSkew ?? null), s.ttftMs ? `${n2(s.ttftMs.p50, 1)} / ${n2(s.ttftMs.p99, 1)}` : "n/a", esc(s.missing.join(", ") || "none"),
    ]);
  });
  const xTicks = sw.curve.map((c, i) => [i, String(c.load)] as const);
  const series: Series[] = stageKeys.map((k, j) => ({ name: k, color: palette[j % palette.length]!, markers: true, points: sw.curve.flatMap((_, i) => (busy(i, k) === null ? [] : [[i, busy(i, k)!] as const])) }));
  const chart = stageKeys.length
    ? `<div class="box">${lineChart({ title: "Stage busy time per generated token against load", xLabel: "offered load", yLabel: "ms/token", series, xTicks, width: 1160, height: 280 })}</div>`
    : na("per-stage busy time", "moe_stage_busy_seconds_total missing");
  return `<table>${head}${rows.join("")}</table>${chart}`;
}

/** Render the sweep as one self-contained HTML document. */
export function renderSweepHtml(sw: SweepReport): string {
  const first = sw.points[0];
  if (!first) return htmlPage("moe loadtest sweep", `<h1>moe loadtest sweep</h1>${na("sweep", "no point ran")}`);
  const c = first.config;
  const best = sw.curve.reduce((a, p) => (p.outputTokensPerS > a.outputTokensPerS ? p : a), sw.curve[0]!);
  const knee = sw.knee ? `Knee at ${loadLabel(sw.knee.load, sw.variable)}: ${n2(sw.knee.outputTokensPerS, 1)} output tok/s — the ${sw.knee.rule}.` : "No knee: output throughput is still rising at the highest load (or fewer than two points ran); sweep higher.";
  const cards = [
    card(sw.knee ? loadLabel(sw.knee.load, sw.variable) : "not reached", "knee"), card(n2(best.outputTokensPerS, 1), `best output tok/s (${loadLabel(best.load, sw.variable)})`),
    card(n2(Math.max(...sw.curve.map((p) => p.requestsPerS))), "best requests/s"), card(String(sw.points.length), "load points"),
    card(String(c.requests), "requests per point"), card(String(c.warmup), "warm-up requests per point"),
  ].join("");
  const details = sw.points.map((p, i) => `<details><summary>${esc(loadLabel(sw.curve[i]!.load, sw.variable))} — ${esc(loadText(p.config))}: full report</summary>${reportSections(p)}</details>`).join("\n");
  const cfg: Array<[string, string]> = [["gateway", c.url], ["model", c.model], ["endpoint", c.endpoint === "chat" ? "/v1/chat/completions" : "/v1/completions"], ["prompts", promptText(c.prompt)], ["max tokens", `${c.maxTokens.mean} ± ${c.maxTokens.stddev}`], ["seed", String(c.seed)], ["auth", c.auth.apiKey ? "API key" : "no API key"]];
  const body = `<h1>moe loadtest sweep</h1>
<div class="sub">${esc(c.model)} at ${esc(c.url)} · ${esc(c.endpoint)} · ${esc(sw.variable)} ${esc(sw.curve.map((p) => String(p.load)).join(", "))} · ${esc(sw.createdAt)} · schema ${esc(sw.schema)}</div>
<div class="cards">${cards}</div>
<p>${esc(knee)}</p>
<h2>Throughput and latency against load</h2>${curveTable(sw)}
${curveCharts(sw)}
<h2>Server side (/metrics) per point</h2>${serverSection(sw)}
<h2>Each point</h2>${details}
<h2>Configuration</h2><table class="left">${cfg.map(([k, v]) => row([esc(k), esc(v)])).join("")}</table>`;
  return htmlPage(`moe loadtest sweep — ${c.model} — ${sw.createdAt}`, body);
}
