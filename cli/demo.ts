/**
 * `moe demo` (`npm run demo`): start the local cluster, run a load test
 * against its gateway, print the report summary, stop everything, exit 0.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { launch } from "../control/index.js";
import { formatSummary, runLoadTest } from "../loadtest/index.js";
import { parseIntOption } from "./options.js";

interface DemoFlags {
  cluster: string;
  requests: number;
  concurrency: number;
}

export function register(program: Command): void {
  program
    .command("demo")
    .description("start the local cluster, load-test it, print the summary and stop")
    .option("--cluster <file>", "cluster YAML", "configs/clusters/local.yaml")
    .option("--requests <n>", "requests to send", parseIntOption("--requests", 1), 50)
    .option("--concurrency <n>", "simultaneous requests", parseIntOption("--concurrency", 1), 8)
    .action(async (f: DemoFlags) => {
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
    });
}
