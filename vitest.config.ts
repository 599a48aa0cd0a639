import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // full-width Grok-1 checks: `npm run test:wide` (vitest.wide.config.ts)
    exclude: ["test/wide/**", "**/node_modules/**"],
    // transpiles the sources once per run for the `moe` child processes the tests start ($MOE_ENTRY)
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    // one worker process runs the files one after the other and keeps its module cache between them:
    // no fresh fork + import of onnxruntime, zeromq, ... per file (48 unit files: 135 s -> 87 s).
    // Every file closes what it opens (sockets, sessions, processes) and no test changes process-wide state.
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
