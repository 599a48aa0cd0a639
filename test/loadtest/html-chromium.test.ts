/**
 * The HTML report rendered by real headless Chromium (Debian package `chromium`): a screenshot
 * whose plots are visible (series colours present in the pixels) and a DOM dump in which the
 * report's own script counted every drawn plot.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { PLOT_COLORS, renderHtml, runLoadTest } from "../../loadtest/index.js";
import { startFakeGateway } from "./fake-gateway.js";
import { countColor, decodePng } from "./png.js";

const CHROMIUM = "/usr/bin/chromium";
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "moe-loadtest-html-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function chromiumArgs(profile: string, extra: string[], file: string): string[] {
  return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", `--user-data-dir=${join(dir, profile)}`, ...extra, `file://${file}`];
}

const have = existsSync(CHROMIUM);
describe("HTML report in headless Chromium", () => {
  it.skipIf(!have)(have ? "renders every plot visibly (screenshot + DOM count)" : `SKIPPED: ${CHROMIUM} not installed (apt-get install -y chromium)`, async () => {
    const gw = await startFakeGateway({
      plan: (n) => (n % 9 === 4 ? { kind: "status", status: 429, retryAfter: "0" } : { kind: "stream", ttftMs: 40 + (n % 5) * 30, itlMs: 10 + (n % 3) * 5 }),
      layers: 6, experts: 8, hotFactor: 2.5,
    });
    let html: string;
    try {
      const report = await runLoadTest({ url: gw.url, requests: 30, concurrency: 5, maxTokens: "16:4", promptTokens: "32:8", metricsIntervalS: 0.1, slo: { ttftMs: 150, tpotMs: 20 } });
      html = renderHtml(report);
    } finally {
      await gw.close();
    }
    const file = join(dir, "report.html");
    const png = join(dir, "report.png");
    writeFileSync(file, html);
    expect((html.match(/<svg class="plot"/g) ?? []).length).toBe(9);

    await run(CHROMIUM, chromiumArgs("p1", [`--screenshot=${png}`, "--window-size=1280,3600", "--hide-scrollbars"], file), { timeout: 120_000 });
    const img = decodePng(readFileSync(png));
    expect([img.width, img.height]).toEqual([1280, 3600]);
    const visible: Record<string, number> = {};
    for (const k of ["ttft", "tpot", "itl", "e2el", "tokens", "running", "stage"] as const) visible[k] = countColor(img, PLOT_COLORS[k]);
    visible.heatmapHot = countColor(img, "rgb(178,24,43)", 30);
    for (const [k, n] of Object.entries(visible)) expect(n, `pixels of the ${k} plot`).toBeGreaterThan(150);

    const { stdout } = await run(CHROMIUM, chromiumArgs("p2", ["--dump-dom"], file), { timeout: 120_000, maxBuffer: 32 << 20 });
    expect(/data-plots-rendered="(\d+)"/.exec(stdout)?.[1]).toBe("9");
  });
});
