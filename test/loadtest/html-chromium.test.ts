/**
 * The HTML report rendered by real headless Chromium (Debian package `chromium`): a screenshot
 * whose plots are visible (series colours present in the pixels) and a DOM dump in which the
 * report's own script counted every drawn plot. The scripted server injects the 429s and the
 * expert skew a real gateway cannot be made to produce on demand; the sweep page of a real
 * cluster is rendered in test/cluster/loadtest.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PLOT_COLORS, renderHtml, runLoadTest } from "../../loadtest/index.js";
import { CHROMIUM, HAVE_CHROMIUM, dumpDom, screenshot } from "./chromium.js";
import { startFakeGateway } from "./fake-gateway.js";
import { countColor } from "./png.js";

const dir = mkdtempSync(join(tmpdir(), "moe-loadtest-html-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("HTML report in headless Chromium", () => {
  it.skipIf(!HAVE_CHROMIUM)(HAVE_CHROMIUM ? "renders every plot visibly (screenshot + DOM count)" : `SKIPPED: ${CHROMIUM} not installed (apt-get install -y chromium)`, async () => {
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
    writeFileSync(file, html);
    expect((html.match(/<svg class="plot"/g) ?? []).length).toBe(9);

    const img = await screenshot(dir, file, 1280, 3600);
    expect([img.width, img.height]).toEqual([1280, 3600]);
    const visible: Record<string, number> = {};
    for (const k of ["ttft", "tpot", "itl", "e2el", "tokens", "running", "stage"] as const) visible[k] = countColor(img, PLOT_COLORS[k]);
    visible.heatmapHot = countColor(img, "rgb(178,24,43)", 30);
    for (const [k, n] of Object.entries(visible)) expect(n, `pixels of the ${k} plot`).toBeGreaterThan(150);

    expect(/data-plots-rendered="(\d+)"/.exec(await dumpDom(dir, file))?.[1]).toBe("9");
  });
});
