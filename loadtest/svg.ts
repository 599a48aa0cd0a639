/**
 * Small inline-SVG chart primitives for the HTML report (pure string builders, no DOM, no
 * external code): line/step charts with axes and legends, a heatmap and horizontal bars.
 */

/** Escape text for HTML/SVG content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Shortest readable number. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(1);
  return String(Number(x.toPrecision(a >= 100 ? 5 : 3)));
}

/** Roughly `count` "nice" (1/2/5·10^k) ticks covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** One line of a chart. */
export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  /** Draw as steps (value holds until the next point), as for CDFs and binned rates. */
  readonly step?: boolean;
  readonly dashed?: boolean;
  /** Draw a dot at every point (with its value as a tooltip). */
  readonly markers?: boolean;
}

/** A chart's frame. */
export interface ChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly width?: number;
  readonly height?: number;
  /** Fix the y range (e.g. [0, 1] for CDFs); default [0, max·1.05]. */
  readonly yRange?: readonly [number, number];
  /** Categorical x ticks `[x, label]` instead of numeric ones (e.g. the loads of a sweep). */
  readonly xTicks?: ReadonlyArray<readonly [number, string]>;
  /** Vertical marks `[x, label]` (e.g. the knee of a sweep). */
  readonly marks?: ReadonlyArray<readonly [number, string]>;
}

const M = { l: 62, r: 16, t: 34, b: 46 };

/** A line chart as an `<svg class="plot">`; empty series give a "no data" frame. */
export function lineChart(spec: ChartSpec): string {
  const W = spec.width ?? 560, H = spec.height ?? 300;
  const pw = W - M.l - M.r, ph = H - M.t - M.b;
  const all = spec.series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const min = (v: number[]): number => v.reduce((a, b) => Math.min(a, b), 0);
  const max = (v: number[]): number => (v.length ? v.reduce((a, b) => Math.max(a, b), -Infinity) : 1);
  const x0 = min(xs), x1 = max(xs);
  const [y0, y1] = spec.yRange ?? [min(ys), max(ys) * 1.05 || 1];
  const xt = spec.xTicks ? spec.xTicks.map((t) => t[0]) : niceTicks(x0, x1 > x0 ? x1 : x0 + 1), yt = niceTicks(y0, y1, 4);
  const xLabel = new Map(spec.xTicks ?? []);
  const xMax = Math.max(x1, xt[xt.length - 1] ?? x1), yMax = spec.yRange ? y1 : Math.max(y1, yt[yt.length - 1]!);
  const sx = (x: number): number => M.l + ((x - x0) / (xMax - x0 || 1)) * pw;
  const sy = (y: number): number => M.t + ph - ((y - y0) / (yMax - y0 || 1)) * ph;
  const parts: string[] = [
    `<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(spec.title)}">`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.l}" y="20" class="t">${esc(spec.title)}</text>`,
  ];
  for (const t of yt) parts.push(`<line x1="${M.l}" x2="${M.l + pw}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" class="g"/><text x="${M.l - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  for (const t of xt) parts.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${M.t}" y2="${M.t + ph}" class="g"/><text x="${sx(t).toFixed(1)}" y="${M.t + ph + 16}" text-anchor="middle">${esc(xLabel.get(t) ?? fmt(t))}</text>`);
  parts.push(`<rect x="${M.l}" y="${M.t}" width="${pw}" height="${ph}" class="frame"/>`);
  for (const [x, label] of spec.marks ?? []) {
    const X = sx(x).toFixed(1);
    parts.push(`<line class="mark" x1="${X}" x2="${X}" y1="${M.t}" y2="${M.t + ph}" stroke="#444" stroke-width="1.5" stroke-dasharray="3 3"/><text x="${(sx(x) + 4).toFixed(1)}" y="${M.t + 14}" class="ax">${esc(label)}</text>`);
  }
  parts.push(`<text x="${M.l + pw / 2}" y="${H - 8}" text-anchor="middle" class="ax">${esc(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${M.t + ph / 2}) rotate(-90)" text-anchor="middle" class="ax">${esc(spec.yLabel)}</text>`);
  if (all.length === 0) parts.push(`<text x="${M.l + pw / 2}" y="${M.t + ph / 2}" text-anchor="middle" class="na">no data</text>`);
  // Legend in the title row, right-aligned; a single series is named by the title.
  const drawn = spec.series.filter((s) => s.points.length > 0);
  const itemW = (s: Series): number => 34 + s.name.length * 6.5;
  let legendX = W - M.r - drawn.reduce((a, s) => a + itemW(s), 0);
  spec.series.forEach((s) => {
    if (s.points.length === 0) return;
    let d = "";
    s.points.forEach(([x, y], j) => {
      const X = sx(x).toFixed(1), Y = sy(y).toFixed(1);
      if (j === 0) d += `M${X} ${Y}`;
      else d += s.step ? `H${X}V${Y}` : `L${X} ${Y}`;
    });
    if (s.points.length === 1) d += `h2`;
    parts.push(`<path class="series" d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`);
    if (s.markers)
      for (const [x, y] of s.points) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${s.color}"><title>${esc(`${s.name}: ${fmt(y)}`)}</title></circle>`);
    if (drawn.length < 2) return;
    const lx = legendX;
    legendX += itemW(s);
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="16" y2="16" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/><text x="${lx + 22}" y="20">${esc(s.name)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("");
}

/** Diverging colour for a load ratio (load / layer mean): blue below 1, white at 1, red above (saturating at 2). */
export function ratioColor(ratio: number): string {
  const t = Math.max(-1, Math.min(1, ratio - 1));
  const mix = (a: number, b: number, u: number): number => Math.round(a + (b - a) * u);
  const [r, g, b] = t >= 0 ? [mix(247, 178, t), mix(247, 24, t), mix(247, 43, t)] : [mix(247, 33, -t), mix(247, 102, -t), mix(247, 172, -t)];
  return `rgb(${r},${g},${b})`;
}

/** A row of the heatmap. */
export interface HeatRow {
  readonly label: string;
  readonly values: readonly number[];
  /** Shown at the row's right. */
  readonly note: string;
}

/** Heatmap of rows × columns, each cell coloured by value / row mean. */
export function heatmap(title: string, columns: readonly string[], rows: readonly HeatRow[], width = 1160): string {
  const left = 70, right = 130, top = 48, cw = Math.max(24, Math.min(90, (width - left - right) / Math.max(1, columns.length)));
  const ch = Math.max(10, Math.min(32, 640 / Math.max(1, rows.length)));
  const H = top + rows.length * ch + 40;
  const parts = [`<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" role="img" aria-label="${esc(title)}">`, `<rect width="${width}" height="${H}" fill="#fff"/>`, `<text x="${left}" y="20" class="t">${esc(title)}</text>`];
  columns.forEach((c, j) => parts.push(`<text x="${left + j * cw + cw / 2}" y="${top - 6}" text-anchor="middle">${esc(c)}</text>`));
  rows.forEach((r, i) => {
    const mean = r.values.reduce((a, b) => a + b, 0) / Math.max(1, r.values.length);
    const y = top + i * ch;
    if (ch >= 10) parts.push(`<text x="${left - 6}" y="${y + ch / 2 + 4}" text-anchor="end">${esc(r.label)}</text>`);
    r.values.forEach((v, j) => {
      const ratio = mean > 0 ? v / mean : 1;
      parts.push(`<rect class="cell" x="${left + j * cw}" y="${y}" width="${cw - 1}" height="${ch - 1}" fill="${ratioColor(ratio)}"><title>${esc(`${r.label} expert ${columns[j]}: ${fmt(v)} tokens (${fmt(ratio)}× mean)`)}</title></rect>`);
    });
    parts.push(`<text x="${left + columns.length * cw + 8}" y="${y + ch / 2 + 4}">${esc(r.note)}</text>`);
  });
  const ly = top + rows.length * ch + 14;
  for (let k = 0; k <= 20; k++) parts.push(`<rect x="${left + k * 12}" y="${ly}" width="12" height="10" fill="${ratioColor(k / 10)}"/>`);
  parts.push(`<text x="${left}" y="${ly + 24}">0×</text><text x="${left + 120}" y="${ly + 24}" text-anchor="middle">1× layer mean</text><text x="${left + 252}" y="${ly + 24}" text-anchor="end">≥2×</text>`);
  parts.push("</svg>");
  return parts.join("");
}

/** Horizontal bars with a label and a value text each. */
export function hbars(title: string, bars: ReadonlyArray<{ label: string; value: number; text: string }>, color: string, width = 1160): string {
  const left = 200, right = 200, top = 34, bh = 24;
  const H = top + bars.length * (bh + 6) + 16;
  const max = Math.max(1e-12, ...bars.map((b) => b.value));
  const parts = [`<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" role="img" aria-label="${esc(title)}">`, `<rect width="${width}" height="${H}" fill="#fff"/>`, `<text x="10" y="20" class="t">${esc(title)}</text>`];
  bars.forEach((b, i) => {
    const y = top + i * (bh + 6);
    const w = ((width - left - right) * b.value) / max;
    parts.push(`<text x="${left - 8}" y="${y + bh / 2 + 4}" text-anchor="end">${esc(b.label)}</text><rect class="cell" x="${left}" y="${y}" width="${Math.max(1, w).toFixed(1)}" height="${bh}" fill="${color}"/><text x="${left + w + 8}" y="${y + bh / 2 + 4}">${esc(b.text)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("");
}
