/**
 * `moe demo` (`npm run demo`): start the local cluster, run a load test
 * against its gateway, print the report summary, stop everything, exit 0.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launch } from "../control/index.js";
import { formatSummary, runLoadTest } from "../loadtest/index.js";

interface DemoFlags {
  cluster: string;
  requests: number;
  concurrency: number;
}

/** The action of `moe demo`. */
export const action = async (f: DemoFlags) => {
  const runDir = mkdtempSync(join(tmpdir(), "moe-demo-"));
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  console.log(`starting ${f.cluster} ...`);
  const cluster = await launch({ clusterFile: f.cluster, gatewayPort: 0, runDir, signal: abort.signal });
  try {
    const url = cluster.gatewayUrl;
    if (!url) throw new Error(`${f.cluster} places no gateway on this machine`);
    console.log(`cluster ready, gateway ${url}; sending ${f.requests} requests (${f.concurrency} at a time) ...`);
    const report = await runLoadTest({
      url,
      requests: f.requests,
      concurrency: f.concurrency,
      promptTokens: "48:16",
      maxTokens: "32:8",
      temperature: 0,
      seed: 1,
      signal: abort.signal,
    });
    console.log(formatSummary(report));
    if (report.summary.completed === 0) process.exitCode = 1;
  } finally {
    await cluster.stop("demo finished");
    rmSync(runDir, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
};
