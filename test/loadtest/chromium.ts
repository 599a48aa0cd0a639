/** Headless Chromium (Debian package `chromium`) for the HTML report tests: a screenshot and a DOM dump of a local file. */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { decodePng, type Image } from "./png.js";

export const CHROMIUM = "/usr/bin/chromium";
/** Whether the browser is installed (the tests that need it are skipped, saying so, when not). */
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

const run = promisify(execFile);

function args(profile: string, extra: string[], file: string): string[] {
  return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`, ...extra, `file://${file}`];
}

/** Screenshot `file` at `width`×`height` into `dir`; returns the decoded image. */
export async function screenshot(dir: string, file: string, width: number, height: number): Promise<Image> {
  const png = join(dir, "shot.png");
  await run(CHROMIUM, args(join(dir, "profile-shot"), [`--screenshot=${png}`, `--window-size=${width},${height}`, "--hide-scrollbars"], file), { timeout: 120_000 });
  return decodePng(readFileSync(png));
}

/** The DOM after the page's scripts ran. */
export async function dumpDom(dir: string, file: string): Promise<string> {
  const { stdout } = await run(CHROMIUM, args(join(dir, "profile-dom"), ["--dump-dom"], file), { timeout: 120_000, maxBuffer: 32 << 20 });
  return stdout;
}
