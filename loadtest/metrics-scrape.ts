/**
 * Prometheus text exposition (0.0.4) parser and the `/metrics` scraper. The parser keeps what a
 * load report needs (name, labels, value) and skips comments, HELP/TYPE lines and timestamps.
 */
import { performance } from "node:perf_hooks";
import { sleep } from "./drive.js";

/** One sample line: `name{labels} value`. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function parseValue(s: string): number {
  if (s === "+Inf" || s === "Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  const v = Number(s);
  return s.trim() === "" ? NaN : v;
}

/** Parse `{a="x",b="y\"z"}` starting at `line[i] === "{"`; returns labels and the index after `}`. */
function parseLabels(line: string, i: number): { labels: Record<string, string>; end: number } | null {
  const labels: Record<string, string> = {};
  i++;
  for (;;) {
    while (line[i] === " " || line[i] === ",") i++;
    if (line[i] === "}") return { labels, end: i + 1 };
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
    if (!m) return null;
    i += m[0].length;
    while (line[i] === " ") i++;
    if (line[i] !== "=" || line[i + 1] !== '"') return null;
    i += 2;
    let v = "";
    for (; i < line.length && line[i] !== '"'; i++) {
      if (line[i] === "\\" && i + 1 < line.length) {
        const c = line[++i];
        v += c === "n" ? "\n" : c;
      } else v += line[i];
    }
    if (line[i] !== '"') return null;
    labels[m[0]] = v;
    i++;
  }
}

/** Parse exposition text; malformed lines are skipped (a scrape is best-effort evidence). */
export function parsePrometheusText(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!m) continue;
    let i = m[0].length;
    let labels: Record<string, string> = {};
    if (line[i] === "{") {
      const l = parseLabels(line, i);
      if (!l) continue;
      labels = l.labels;
      i = l.end;
    }
    const rest = line.slice(i).trim().split(/\s+/);
    const value = parseValue(rest[0] ?? "");
    if (Number.isNaN(value) && rest[0] !== "NaN") continue;
    out.push({ name: m[0], labels, value });
  }
  return out;
}

/** One scrape of `/metrics`: when, and the samples or why there are none. */
export interface MetricsScrape {
  /** Seconds from the run's start (negative: before it). */
  readonly tS: number;
  readonly samples: readonly PromSample[] | null;
  readonly error?: string;
}

/** GET `{baseUrl}/metrics` (with `headers`, e.g. the API key) and parse it; never throws (failures come back in `error`). */
export async function scrapeMetrics(baseUrl: string, startMs: number, timeoutMs = 5000, headers?: Readonly<Record<string, string>>): Promise<MetricsScrape> {
  const tS = (performance.now() - startMs) / 1000;
  try {
    const res = await fetch(`${baseUrl}/metrics`, { headers, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    if (!res.ok) return { tS, samples: null, error: `GET /metrics answered HTTP ${res.status}` };
    return { tS, samples: parsePrometheusText(text) };
  } catch (err) {
    const e = err as { message?: string; cause?: { code?: string } };
    return { tS, samples: null, error: `GET /metrics failed: ${e?.cause?.code ?? e?.message ?? String(err)}` };
  }
}

/** A running periodic scraper: its scrapes so far, and `stop()` which takes one last scrape. */
export interface Scraper {
  readonly scrapes: MetricsScrape[];
  stop(): Promise<void>;
}

/** Periodic `/metrics` scraping: one scrape now, then every `intervalS` (0: none) until `stop()`, then one more. */
export async function startScraper(base: string, startMs: number, intervalS: number, headers?: Readonly<Record<string, string>>): Promise<Scraper> {
  const scrape = (): Promise<MetricsScrape> => scrapeMetrics(base, startMs, 5000, headers);
  const scrapes: MetricsScrape[] = [await scrape()];
  const ctrl = new AbortController();
  // A gateway without /metrics is not polled during the run; the final scrape still tries once more.
  const periodic = intervalS > 0 && scrapes[0]!.samples !== null;
  const loop = (async () => {
    while (periodic) {
      await sleep(intervalS * 1000, ctrl.signal);
      if (ctrl.signal.aborted) return;
      scrapes.push(await scrape());
    }
  })();
  return {
    scrapes,
    async stop() {
      ctrl.abort();
      await loop;
      scrapes.push(await scrape());
    },
  };
}
