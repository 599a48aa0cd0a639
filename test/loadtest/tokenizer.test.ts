/** Text prompts through the project's tokenizer and xAI's tokenizer.model (skipped when the file is absent). */
import { existsSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runLoadTest } from "../../loadtest/index.js";
import { startFakeGateway, type FakeGateway } from "./fake-gateway.js";

const GROK = path.resolve(process.cwd(), "../shared/grok-1/tokenizer.model");
const have = existsSync(GROK);
let gw: FakeGateway | undefined;
afterEach(async () => gw?.close());

describe("--tokenizer", () => {
  it.skipIf(!have)(have ? "sends text prompts that encode to exactly the sampled lengths" : `SKIPPED: ${GROK} not present`, async () => {
    const { loadTokenizer } = await import("../../model/tokenizer/index.js");
    const tok = await loadTokenizer({ kind: "spm-file", path: GROK });
    gw = await startFakeGateway({ plan: () => ({ kind: "stream", ttftMs: 5, itlMs: 1 }) });
    const report = await runLoadTest({ url: gw.url, tokenizer: GROK, requests: 8, concurrency: 4, promptTokens: "120:30", maxTokens: "2", seed: 9, scrapeMetrics: false });
    expect(report.config.prompt).toEqual({ kind: "text", tokenizer: GROK, vocabRange: null });
    expect(report.summary.completed).toBe(8);
    for (const r of report.requests) {
      const body = gw.bodies.find((b) => typeof b.prompt === "string" && tok.encode(b.prompt, { addBos: false }).length === r.promptTokens);
      expect(body, `a text prompt of ${r.promptTokens} tokens`).toBeDefined();
    }
    expect(new Set(report.requests.map((r) => r.promptTokens)).size).toBeGreaterThan(3);
  });
});
