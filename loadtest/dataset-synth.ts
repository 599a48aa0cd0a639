/**
 * Synthetic ShareGPT-shaped conversations (pure, seeded): English-like questions and answers of
 * varied lengths built from a fixed word list, for tests and demos that need a dataset without
 * downloading one. The same options always give the same bytes.
 */
import { createRng, uniformInt, type Rng } from "./random.js";

/** One ShareGPT turn. */
export interface ShareGptTurn {
  readonly from: "human" | "gpt";
  readonly value: string;
}

/** One ShareGPT entry. */
export interface ShareGptEntry {
  readonly id: string;
  readonly conversations: readonly ShareGptTurn[];
}

/** Options of {@link synthesizeShareGpt}. */
export interface ShareGptSynthOptions {
  /** Conversations to write. */
  readonly conversations: number;
  readonly seed: number;
  /** Longest question and answer, in words (default 48 and 64). */
  readonly maxPromptWords?: number;
  readonly maxReplyWords?: number;
}

const SUBJECTS = ["the model", "a router", "the cluster", "my laptop", "the gateway", "each stage", "the scheduler", "a small team", "the network", "this expert", "the cache", "our service"];
const VERBS = ["reads", "sends", "splits", "routes", "measures", "stores", "balances", "explains", "compares", "answers", "serves", "predicts"];
const OBJECTS = ["the tokens", "every request", "a long prompt", "the weights", "two batches", "the latency", "a short story", "the numbers", "each layer", "the results", "a new plan", "the queue"];
const TAILS = ["quickly", "again", "in order", "on time", "for everyone", "without errors", "at night", "with care", "by itself", "over the wire"];
const ASKS = ["Can you tell me how", "Explain why", "Please describe how", "I wonder whether", "Write a note on how", "Summarize how"];

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[uniformInt(rng, 0, xs.length)]!;

/** Sentences until about `words` words (at least one sentence). */
function prose(rng: Rng, words: number, question: boolean): string {
  const out: string[] = [];
  let n = 0;
  do {
    const s = `${pick(rng, SUBJECTS)} ${pick(rng, VERBS)} ${pick(rng, OBJECTS)}${rng.next() < 0.5 ? ` ${pick(rng, TAILS)}` : ""}`;
    const sentence = question && out.length === 0 ? `${pick(rng, ASKS)} ${s}?` : `${s[0]!.toUpperCase()}${s.slice(1)}.`;
    out.push(sentence);
    n += sentence.split(" ").length;
  } while (n < words);
  return out.join(" ");
}

/** Log-uniform integer in [lo, hi]: many short turns, some long ones (as in real chats). */
function logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.round(Math.exp(Math.log(lo) + rng.next() * (Math.log(hi) - Math.log(lo))));
}

/**
 * Conversations of 2–4 turns (human first, alternating); about one in twelve has a single turn,
 * as real dumps do, which loaders skip.
 */
export function synthesizeShareGpt(o: ShareGptSynthOptions): ShareGptEntry[] {
  const rng = createRng(o.seed, "sharegpt-synth");
  const maxP = o.maxPromptWords ?? 48, maxR = o.maxReplyWords ?? 64;
  return Array.from({ length: o.conversations }, (_, i) => {
    const turns = rng.next() < 1 / 12 ? 1 : uniformInt(rng, 2, 5);
    const conversations: ShareGptTurn[] = Array.from({ length: turns }, (_, t) =>
      t % 2 === 0 ? { from: "human" as const, value: prose(rng, logUniform(rng, 3, maxP), true) } : { from: "gpt" as const, value: prose(rng, logUniform(rng, 2, maxR), false) },
    );
    return { id: `synthetic-${String(i).padStart(4, "0")}`, conversations };
  });
}

/** The file text of a ShareGPT JSON array: one entry per line, so diffs stay readable. */
export function shareGptJson(entries: readonly ShareGptEntry[]): string {
  return `[\n${entries.map((e) => JSON.stringify(e)).join(",\n")}\n]\n`;
}
