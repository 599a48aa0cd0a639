import { defineConfig } from "vitest/config";

// onnxruntime's telemetry off for the whole test process (model/blocks/telemetry.ts): set here, in the main
// thread, because a worker thread's process.env is a copy that onnxruntime never reads
process.env.ORT_DISABLE_TELEMETRY ??= "1";

/** `npm run test:wide`: Grok-1 at full width (d 6144, vocab 131072), minutes and gigabytes; not part of `npm test`. */
export default defineConfig({
  test: {
    include: ["test/wide/**/*.test.ts"],
    pool: "forks",
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
    testTimeout: 3_600_000,
    hookTimeout: 3_600_000,
  },
});
