/**
 * Dataset prompts, as `vllm bench serve` and SGLang's `bench_serving` replay them:
 *
 * - `sharegpt`: a JSON array (or JSONL) of `{"conversations": [{"from", "value"}, ...]}`; the
 *   first turn is the prompt and the second the reference reply, whose length in tokens (with a
 *   tokenizer) is the request's `max_tokens`. Entries with fewer than two turns are skipped.
 * - `jsonl`: one `{"prompt": TEXT | [ids], "output_tokens"?: N}` per line (vLLM's custom
 *   format; `max_tokens` is accepted for `output_tokens`).
 *
 * Requests are drawn by a seeded shuffle (the same seed gives the same requests in the same
 * order); a file with fewer usable entries than requests is cycled. Where an entry gives no
 * output length, `max_tokens` comes from the `--max-tokens` distribution. Parsing reads the file
 * as bytes and splits the top-level array without building one giant string, so the 640 MB
 * ShareGPT dump loads.
 */
import { readFile } from "node:fs/promises";
import { DatasetError, LoadTestOptionError } from "./errors.js";
import { sampleLength, type LengthDist, type SyntheticRequest } from "./prompts.js";
import { createRng, uniformInt } from "./random.js";

/** Dataset file formats. */
export type DatasetFormat = "sharegpt" | "jsonl";

/** One usable entry of a dataset file. */
export interface DatasetEntry {
  /** 1-based entry (JSON array) or line (JSONL) number in the file. */
  readonly line: number;
  /** Prompt text, or token ids used exactly as given. */
  readonly prompt: string | readonly number[];
  /** Reference reply (ShareGPT's second turn); its token count is the output length. */
  readonly reply?: string;
  /** Output length the entry asks for (JSONL `output_tokens`). */
  readonly outputTokens?: number;
}

/** A parsed dataset file. */
export interface Dataset {
  readonly file: string;
  readonly format: DatasetFormat;
  readonly entries: readonly DatasetEntry[];
  /** Entries left out while parsing (ShareGPT conversations with fewer than two turns). */
  readonly skipped: number;
}

/** What counting tokens needs from a tokenizer. */
export interface TokenCounter {
  encode(text: string, opts?: { addBos?: boolean }): number[];
}

/** Parse `--dataset-format`. */
export function parseDatasetFormat(spec: string, field = "--dataset-format"): DatasetFormat {
  const s = spec.trim().toLowerCase();
  if (s === "sharegpt" || s === "jsonl") return s;
  throw new LoadTestOptionError(`${field} must be 'sharegpt' or 'jsonl', got '${spec}'`, { field });
}

/** The format a file name implies: `.jsonl` → jsonl, anything else → sharegpt. */
export function datasetFormatOf(file: string): DatasetFormat {
  return /\.jsonl$/i.test(file) ? "jsonl" : "sharegpt";
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Byte ranges `[start, end)` of the elements of the top-level JSON array in `buf` (strings and
 * escapes tracked; UTF-8 continuation bytes never look like JSON punctuation).
 * @throws Error when `buf` is not an array or ends inside one.
 */
export function splitJsonArray(buf: Uint8Array): Array<[number, number]> {
  let i = 0;
  while (i < buf.length && WS.has(buf[i]!)) i++;
  if (buf[i] !== 0x5b) throw new Error("expected a JSON array ('[') at the start");
  const out: Array<[number, number]> = [];
  let depth = 0, inString = false, start = -1;
  for (i++; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) {
        if (start >= 0) out.push([start, i]);
        return out;
      }
      depth--;
    } else if (c === 0x2c && depth === 0) {
      if (start >= 0) out.push([start, i]);
      start = -1;
      continue;
    }
    if (start < 0 && !WS.has(c)) start = i;
  }
  throw new Error("the JSON array is not closed (file truncated?)");
}

const decoder = new TextDecoder();

/** JSON objects of a JSONL buffer with their 1-based line numbers (blank lines skipped). */
function jsonLines(buf: Uint8Array, file: string): Array<{ line: number; value: unknown }> {
  const out: Array<{ line: number; value: unknown }> = [];
  let start = 0, line = 1;
  for (let i = 0; i <= buf.length; i++) {
    if (i < buf.length && buf[i] !== 0x0a) continue;
    const text = decoder.decode(buf.subarray(start, i)).trim();
    if (text !== "") {
      try {
        out.push({ line, value: JSON.parse(text) });
      } catch (cause) {
        throw new DatasetError(`${file}:${line}: not valid JSON (${(cause as Error).message})`, { file, line, cause, fix: "one JSON object per line" });
      }
    }
    start = i + 1;
    line++;
  }
  return out;
}

/** JSON values of the top-level array (or of JSONL lines when the file does not start with '['). */
function jsonValues(buf: Uint8Array, file: string): Array<{ line: number; value: unknown }> {
  let i = 0;
  while (i < buf.length && WS.has(buf[i]!)) i++;
  if (buf[i] !== 0x5b) return jsonLines(buf, file);
  let ranges: Array<[number, number]>;
  try {
    ranges = splitJsonArray(buf);
  } catch (cause) {
    throw new DatasetError(`${file}: ${(cause as Error).message}`, { file, cause });
  }
  return ranges.map(([a, b], k) => {
    try {
      return { line: k + 1, value: JSON.parse(decoder.decode(buf.subarray(a, b))) as unknown };
    } catch (cause) {
      throw new DatasetError(`${file}: entry ${k + 1} is not valid JSON (${(cause as Error).message})`, { file, line: k + 1, cause });
    }
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function shareGptEntry(v: unknown, line: number, file: string): DatasetEntry | null {
  const where = `${file}: entry ${line}`;
  const fix = 'ShareGPT entries look like {"conversations": [{"from": "human", "value": "..."}, {"from": "gpt", "value": "..."}]}';
  if (!isObject(v) || !Array.isArray(v.conversations)) throw new DatasetError(`${where} has no 'conversations' array`, { file, line, field: "conversations", fix });
  const turns = v.conversations as unknown[];
  if (turns.length < 2) return null;
  const text = (k: number): string => {
    const t = turns[k];
    if (!isObject(t) || typeof t.value !== "string") throw new DatasetError(`${where}: conversations[${k}].value is not a string`, { file, line, field: `conversations[${k}].value`, fix });
    return t.value;
  };
  return { line, prompt: text(0), reply: text(1) };
}

function jsonlEntry(v: unknown, line: number, file: string): DatasetEntry {
  const where = `${file}:${line}`;
  const fix = 'JSONL lines look like {"prompt": "text", "output_tokens": 128}';
  if (!isObject(v)) throw new DatasetError(`${where}: not a JSON object`, { file, line, fix });
  const p = v.prompt;
  const ids = Array.isArray(p) && p.length > 0 && p.every((x) => Number.isInteger(x) && (x as number) >= 0);
  if (typeof p !== "string" && !ids) throw new DatasetError(`${where}: 'prompt' must be a string or an array of token ids`, { file, line, field: "prompt", fix });
  const out = v.output_tokens ?? v.max_tokens;
  if (out !== undefined && out !== null && !(Number.isInteger(out) && (out as number) >= 1)) {
    throw new DatasetError(`${where}: 'output_tokens' must be an integer >= 1, got ${JSON.stringify(out)}`, { file, line, field: "output_tokens", fix });
  }
  return { line, prompt: p as string | number[], ...(typeof out === "number" ? { outputTokens: out } : {}) };
}

/** Parse a dataset from its bytes (pure). @throws DatasetError naming the file, entry and field. */
export function parseDataset(buf: Uint8Array, format: DatasetFormat, file: string): Dataset {
  const values = format === "jsonl" ? jsonLines(buf, file) : jsonValues(buf, file);
  const entries: DatasetEntry[] = [];
  let skipped = 0;
  for (const { line, value } of values) {
    const e = format === "jsonl" ? jsonlEntry(value, line, file) : shareGptEntry(value, line, file);
    if (e) entries.push(e);
    else skipped++;
  }
  if (entries.length === 0) throw new DatasetError(`${file}: no usable entries (${format})`, { file, fix: format === "sharegpt" ? "each conversation needs at least two turns" : "one {\"prompt\": ...} per line" });
  return { file, format, entries, skipped };
}

/** Read and parse a dataset file. @throws DatasetError when it cannot be read or is malformed. */
export async function loadDataset(file: string, format: DatasetFormat = datasetFormatOf(file)): Promise<Dataset> {
  let buf: Uint8Array;
  try {
    buf = await readFile(file);
  } catch (cause) {
    throw new DatasetError(`cannot read dataset ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { file, cause, fix: "check --dataset" });
  }
  return parseDataset(buf, format, file);
}

/** What sampling a dataset needs. */
export interface DatasetPlan {
  readonly count: number;
  readonly seed: number;
  /** Output lengths of entries that give none (and of ShareGPT replies without a tokenizer). */
  readonly maxTokens: LengthDist;
  /** Counts prompt and reply tokens; without it text prompts' lengths are unknown (null). */
  readonly tokenizer?: TokenCounter;
  /** Context length: entries whose known prompt + output tokens exceed it are skipped. */
  readonly maxModelLen?: number;
}

/** Requests drawn from a dataset, and how many entries were passed over. */
export interface DatasetSample {
  readonly requests: SyntheticRequest[];
  /** Entries visited and left out: empty prompt or reply, or longer than the context. */
  readonly skipped: number;
  /** Distinct entries used. */
  readonly used: number;
}

/**
 * `count` requests from a seeded shuffle of the entries (pure given the tokenizer): entries are
 * visited in shuffled order until `count` are usable, then cycled if the file has fewer.
 * @throws DatasetError when no entry is usable.
 */
export function sampleDataset(ds: Dataset, plan: DatasetPlan): DatasetSample {
  const order = ds.entries.map((_, i) => i);
  const shuffle = createRng(plan.seed, "dataset");
  for (let i = order.length - 1; i > 0; i--) {
    const j = uniformInt(shuffle, 0, i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const lengths = createRng(plan.seed, "dataset-lengths");
  const tok = plan.tokenizer;
  const picked: Array<Omit<SyntheticRequest, "index">> = [];
  let skipped = 0;
  for (const k of order) {
    if (picked.length >= plan.count) break;
    const e = ds.entries[k]!;
    const promptTokens = typeof e.prompt === "string" ? (tok ? tok.encode(e.prompt, { addBos: false }).length : null) : e.prompt.length;
    const maxTokens = e.outputTokens ?? (e.reply !== undefined && tok ? tok.encode(e.reply, { addBos: false }).length : sampleLength(lengths, plan.maxTokens));
    const tooLong = plan.maxModelLen !== undefined && promptTokens !== null && promptTokens + maxTokens > plan.maxModelLen;
    if (e.prompt.length === 0 || promptTokens === 0 || maxTokens < 1 || tooLong) {
      skipped++;
      continue;
    }
    picked.push({ prompt: e.prompt, promptTokens, maxTokens });
  }
  if (picked.length === 0) {
    const ctx = plan.maxModelLen !== undefined ? ` within the context of ${plan.maxModelLen} tokens` : "";
    throw new DatasetError(`${ds.file}: none of its ${ds.entries.length} entries is usable${ctx} (empty prompts or replies, or too long)`, { file: ds.file, fix: "use another dataset or a model with a longer context" });
  }
  const requests = Array.from({ length: plan.count }, (_, index) => ({ index, ...picked[index % picked.length]! }));
  return { requests, skipped, used: picked.length };
}
