/**
 * The live progress bar (cli-progress): shown only on an interactive terminal outside CI, so logs
 * and CI output stay clean. Writes to the stream it is given (stderr in the CLI).
 */
import cliProgress from "cli-progress";
import type { LoadTestProgress } from "./options.js";

/** Whether to draw a progress bar: a TTY, and the `CI` environment variable unset or "false"/"0". */
export function progressWanted(isTTY: boolean | undefined, env: Readonly<Record<string, string | undefined>>): boolean {
  const ci = env.CI;
  return Boolean(isTTY) && (ci === undefined || ci === "" || ci === "false" || ci === "0");
}

/** A progress reporter: `update` per finished request, `stop` at the end (idempotent). */
export interface ProgressReporter {
  update(p: LoadTestProgress): void;
  stop(): void;
}

/** A bar on `stream` when `enabled`, else a reporter that does nothing. */
export function createProgress(enabled: boolean, total: number, stream: NodeJS.WritableStream): ProgressReporter {
  if (!enabled) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { stream, format: "{bar} {value}/{total} req | {inflight} in flight | {errors} errors | {tps} tok/s | {duration_formatted}", hideCursor: true, clearOnComplete: false, fps: 5 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { inflight: 0, errors: 0, tps: "0" });
  let stopped = false;
  return {
    update(p) {
      if (!stopped) bar.update(p.done, { inflight: p.inFlight, errors: p.failed, tps: (p.elapsedS > 0 ? p.outputTokens / p.elapsedS : 0).toFixed(0) });
    },
    stop() {
      if (!stopped) bar.stop();
      stopped = true;
    },
  };
}
