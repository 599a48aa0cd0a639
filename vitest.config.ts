import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // full-width Grok-1 checks: `npm run test:wide` (vitest.wide.config.ts)
    exclude: ["test/wide/**", "**/node_modules/**"],
    // transpiles the sources once per run for the `moe` child processes the tests start ($MOE_ENTRY)
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
