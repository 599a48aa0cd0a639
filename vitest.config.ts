import { defineConfig } from "vitest/config";

// onnxruntime's telemetry off for the whole test process (model/blocks/telemetry.ts): set here, in the main
// thread, because a worker thread's process.env is a copy that onnxruntime never reads
process.env.ORT_DISABLE_TELEMETRY ??= "1";

// full-width Grok-1 checks: `npm run test:wide` (vitest.wide.config.ts)
const EXCLUDE = ["test/wide/**", "**/node_modules/**"];

export default defineConfig({
  test: {
    exclude: EXCLUDE, // (include: per project below; a project's include/exclude add to these)
    // transpiles the sources once per run for the `moe` child processes the tests start ($MOE_ENTRY)
    globalSetup: ["test/global-setup.ts"],
    // a worker runs its files one after the other and keeps its module cache between them: no fresh
    // process + import of onnxruntime, zeromq, ... per file. Every file closes what it opens (sockets,
    // sessions, processes) and no test changes process-wide state.
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two lanes that run at the same time, each with its own pool (one worker each on a 2-core machine):
    // the multi-process cluster tests (mostly waiting on their children) in child processes, everything
    // else (single-threaded compute, in-process servers) in worker threads. On 2 cores the in-process
    // files fill the core the cluster lane leaves idle instead of running after it.
    projects: [
      { extends: true, test: { name: "cluster", include: ["test/cluster/**/*.test.ts"], pool: "forks" } },
      { extends: true, test: { name: "in-process", include: ["test/**/*.test.ts"], exclude: ["test/cluster/**"], pool: "threads" } },
    ],
  },
});
