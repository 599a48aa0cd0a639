/** Pure parts of the gateway: stop strings, request parsing, the chat template, limits. */
import { describe, expect, it } from "vitest";
import { InvalidRequestError, StopMatcher, limitsFromPlan, renderChat, resolveLimits } from "../../gateway/index.js";
import { parseChatRequest, parseCompletionRequest } from "../../gateway/schemas.js";
import { heldSuffix } from "../../gateway/stop.js";

function feed(stops: string[], pieces: string[]): { out: string[]; stopped: boolean; tail: string } {
  const m = new StopMatcher(stops);
  const out: string[] = [];
  let stopped = false;
  for (const p of pieces) {
    const r = m.push(p);
    out.push(r.text);
    if (r.stopped) {
      stopped = true;
      break;
    }
  }
  return { out, stopped, tail: m.flush() };
}

describe("StopMatcher", () => {
  it("passes text through without stop strings", () => {
    expect(feed([], ["a", "b"])).toEqual({ out: ["a", "b"], stopped: false, tail: "" });
  });

  it("cuts before a stop string split over pieces, holding back only a possible start", () => {
    const r = feed(["END"], ["hello E", "N", "D world"]);
    expect(r.out).toEqual(["hello ", "", ""]);
    expect(r.stopped).toBe(true);
    expect(r.out.join("")).toBe("hello ");
  });

  it("releases held text once it cannot start a stop string", () => {
    expect(feed(["END"], ["abE", "x"])).toEqual({ out: ["ab", "Ex"], stopped: false, tail: "" });
    expect(feed(["END"], ["abEN"])).toEqual({ out: ["ab"], stopped: false, tail: "EN" });
  });

  it("stops at the earliest of several stop strings", () => {
    const r = feed(["world", "lo"], ["hello world"]);
    expect(r.out).toEqual(["hel"]);
    expect(r.stopped).toBe(true);
  });

  it("finds the longest held suffix", () => {
    expect(heldSuffix("abcab", ["abcd"])).toBe(2);
    expect(heldSuffix("xyz", ["abc"])).toBe(0);
    expect(heldSuffix("aa", ["aaa", "ab"])).toBe(2);
  });
});

describe("request parsing", () => {
  it("fills OpenAI's defaults", () => {
    const p = parseCompletionRequest({ prompt: "hi" });
    expect(p).toMatchObject({ prompt: { kind: "text", text: "hi" }, maxTokens: 16, temperature: 1, topP: 1, stream: false, stop: [], ignoreEos: false, logprobs: null, echo: false });
    expect(p.seed).toBeUndefined();
  });

  it("takes token-id prompts as given, and one-element prompt arrays", () => {
    expect(parseCompletionRequest({ prompt: [1, 2, 3] }).prompt).toEqual({ kind: "ids", ids: [1, 2, 3] });
    expect(parseCompletionRequest({ prompt: [[4, 5]] }).prompt).toEqual({ kind: "ids", ids: [4, 5] });
    expect(parseCompletionRequest({ prompt: ["only"] }).prompt).toEqual({ kind: "text", text: "only" });
  });

  it("maps seeds to uint32 and stop strings to a list", () => {
    expect(parseCompletionRequest({ prompt: "x", seed: -1 }).seed).toBe(2 ** 32 - 1);
    expect(parseCompletionRequest({ prompt: "x", stop: "\n" }).stop).toEqual(["\n"]);
    expect(parseCompletionRequest({ prompt: "x", stop: null }).stop).toEqual([]);
  });

  it("accepts nulls for optional fields (the openai client sends some)", () => {
    expect(() => parseCompletionRequest({ prompt: "x", max_tokens: null, temperature: null, stream_options: null, logprobs: null })).not.toThrow();
  });

  it("names the field of a type error", () => {
    const err = (() => {
      try {
        parseCompletionRequest({ prompt: "x", top_p: "all" });
      } catch (e) {
        return e;
      }
    })() as InvalidRequestError;
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.status).toBe(400);
    expect(err.param).toBe("top_p");
    expect(err.toBody().error.type).toBe("invalid_request_error");
  });

  it("refuses unsupported features by name", () => {
    for (const [body, param] of [
      [{ prompt: "x", best_of: 2 }, "best_of"],
      [{ prompt: "x", echo: true, logprobs: 1 }, "echo"],
    ] as const)
      expect(() => parseCompletionRequest(body)).toThrow(expect.objectContaining({ param }));
    expect(() => parseCompletionRequest({ prompt: "x", presence_penalty: 0, frequency_penalty: 0 })).not.toThrow();
  });

  it("parses the sampling parameters serving users send (OpenAI and vLLM names)", () => {
    const p = parseCompletionRequest({ prompt: "x", top_k: 40, min_p: 0.05, presence_penalty: 0.5, frequency_penalty: -0.25, repetition_penalty: 1.2, logit_bias: { "5": 1, "17": -100 }, logprobs: 20 });
    expect([p.topK, p.minP, p.presencePenalty, p.frequencyPenalty, p.repetitionPenalty, p.logprobs]).toEqual([40, 0.05, 0.5, -0.25, 1.2, 20]);
    expect([...p.logitBias]).toEqual([[5, 1], [17, -100]]);
    const d = parseCompletionRequest({ prompt: "x", top_k: -1 });
    expect([d.topK, d.minP, d.presencePenalty, d.frequencyPenalty, d.repetitionPenalty, d.logitBias.size]).toEqual([0, 0, 0, 0, 1, 0]);
    expect(() => parseCompletionRequest({ prompt: "x", logit_bias: Object.fromEntries(Array.from({ length: 1025 }, (_, i) => [String(i), 1])) })).toThrow(expect.objectContaining({ param: "logit_bias" }));
  });

  it("parses chat messages with text parts and max_completion_tokens", () => {
    const p = parseChatRequest({ messages: [{ role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }], max_completion_tokens: 7, logprobs: true });
    expect(p.messages).toEqual([{ role: "user", content: "ab" }]);
    expect(p.maxTokens).toBe(7);
    expect(p.logprobs).toBe(true);
  });
});

describe("chat template", () => {
  it("writes one role line per message, then the assistant cue", () => {
    expect(renderChat([{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }])).toBe("system: Be brief.\nuser: Hi\nassistant:");
  });
});

describe("limits", () => {
  it("fills defaults, validates, and reads a plan", () => {
    expect(resolveLimits({ maxQueued: 3 })).toMatchObject({ maxQueued: 3, maxRunningSequences: 64 });
    expect(() => resolveLimits({ maxRunningSequences: 0 })).toThrow(/maxRunningSequences/);
    expect(() => resolveLimits({ maxBatchTokens: 4 })).toThrow(/maxBatchTokens/);
    expect(limitsFromPlan({ predicted: { maxConcurrentSequences: 10.7 } })).toEqual({ maxRunningSequences: 10, maxQueued: 40 });
  });
});
