/** Shared helpers of the gateway tests: the tiny model, gateways over a LocalBackend, SSE and /metrics readers. */
import { loadServingModel, type ServingModel } from "../../model/index.js";
import { ensureModelPath } from "../../factory/index.js";
import { LocalBackend, type StepBackend, type StepItem, type StepResult } from "../../stages/index.js";
import { startGateway, type Gateway, type GatewayOptions } from "../../gateway/index.js";

export const MODEL = "grok-1-tiny";

/** Load the tiny model (generated on first use). Close it with `model.close()` (it closes the engine). */
export function loadTiny(): Promise<ServingModel> {
  return loadServingModel(ensureModelPath(), { threads: 1 });
}

/** A gateway over `backend` (default: a LocalBackend on the model's engine) on 127.0.0.1, ephemeral port. */
export function gatewayFor(model: ServingModel, opts: Partial<GatewayOptions> = {}): Promise<Gateway> {
  return startGateway({
    backend: new LocalBackend(model.engine),
    tokenizer: model.tokenizer,
    config: model.config,
    modelName: MODEL,
    port: 0,
    expertLoad: () => model.engine.moe.counts,
    ...opts,
  });
}

/**
 * A real backend that records every step. `depth` > 1 presents it as a pipeline of that many
 * stages (steps queue inside the LocalBackend, so up to `depth` are in flight at once); `failNext`
 * fails the next steps (a fault a real engine cannot produce on demand).
 */
export class RecordingBackend implements StepBackend {
  readonly steps: StepItem[][] = [];
  failNext = 0;
  /** Most steps in flight at once, and whether a sequence was ever in two at once. */
  maxConcurrent = 0;
  overlap = false;
  private readonly busy = new Set<number>();
  private concurrent = 0;
  constructor(
    readonly inner: LocalBackend,
    private readonly depth = inner.maxInFlight,
  ) {}
  get maxInFlight(): number {
    return this.depth;
  }
  get liveSequences(): number {
    return this.inner.liveSequences;
  }
  async step(items: readonly StepItem[]): Promise<StepResult[]> {
    this.steps.push(items.map((i) => ({ ...i })));
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("injected stage failure");
    }
    this.maxConcurrent = Math.max(this.maxConcurrent, ++this.concurrent);
    for (const i of items) {
      if (this.busy.has(i.seq)) this.overlap = true;
      this.busy.add(i.seq);
    }
    try {
      return await this.inner.step(items);
    } finally {
      this.concurrent--;
      for (const i of items) this.busy.delete(i.seq);
    }
  }
  release(seqs: readonly number[]): Promise<void> {
    return this.inner.release(seqs);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export function post(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body), signal });
}

/** The `data:` payloads of an SSE body (read to the end); `[DONE]` kept as the string. */
export async function sseEvents(res: Response): Promise<unknown[]> {
  const text = await res.text();
  return text
    .split(/\n\n/)
    .map((e) => e.trim())
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice(6))
    .map((d) => (d === "[DONE]" ? d : JSON.parse(d)));
}

/** A completion stream reduced to what the tests compare. */
export interface StreamResult {
  text: string;
  tokenIds: number[];
  finishReason: string | null;
  completionTokens: number | undefined;
  events: unknown[];
}

/** Stream `/v1/completions` (with `return_token_ids` and usage) and collect it. */
export async function streamCompletion(url: string, body: Record<string, unknown>): Promise<StreamResult> {
  const res = await post(`${url}/v1/completions`, { ...body, stream: true, return_token_ids: true, stream_options: { include_usage: true } });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const events = await sseEvents(res);
  const r: StreamResult = { text: "", tokenIds: [], finishReason: null, completionTokens: undefined, events };
  for (const e of events) {
    if (e === "[DONE]") continue;
    const c = e as { choices: Array<{ text: string; token_ids?: number[]; finish_reason: string | null }>; usage?: { completion_tokens: number } | null };
    for (const ch of c.choices) {
      r.text += ch.text;
      r.tokenIds.push(...(ch.token_ids ?? []));
      if (ch.finish_reason) r.finishReason = ch.finish_reason;
    }
    if (c.usage) r.completionTokens = c.usage.completion_tokens;
  }
  return r;
}

/** `/metrics` as name{labels} → value (histogram buckets included). */
export async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const i = line.lastIndexOf(" ");
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** Poll `cond` every 20 ms until true or `ms` elapse; returns whether it became true. */
export async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}
