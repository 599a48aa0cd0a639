/**
 * The generation endpoints: validate → tokenize → submit to the scheduler →
 * answer as one JSON body or as server-sent events. A client that goes away
 * before the end cancels its sequence.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { ModelConfig, SamplingParams, Tokenizer } from "../model/index.js";
import { GatewayError, InvalidRequestError, NotFoundError, asGatewayError } from "./errors.js";
import { SseWriter, readJson, sendError, sendJson } from "./http.js";
import type { GatewayMetrics } from "./metrics.js";
import { OutputAssembler } from "./output.js";
import { checkPromptLength, clipMaxTokens, promptIds, renderChat } from "./prompt.js";
import { chatShape, completionShape, usage, type ResponseShape, type ShapeOptions } from "./responses.js";
import type { FinishReason, Scheduler, SequenceHandle } from "./scheduler.js";
import type { TokenizePool } from "./tokenize-pool.js";
import { parseChatRequest, parseCompletionRequest, type CommonParams } from "./schemas.js";

/** What the handlers need from the gateway. */
export interface HandlerContext {
  readonly scheduler: Scheduler;
  readonly metrics: GatewayMetrics;
  readonly tokenizer: Tokenizer;
  /** Encodes prompt texts off the event loop. */
  readonly encoder: TokenizePool;
  /** Longest prompt text tokenised, UTF-8 bytes; longer texts are refused before tokenising. */
  readonly maxPromptBytes: number;
  readonly config: ModelConfig;
  readonly modelName: string;
  readonly logger: Logger;
}

/** Status recorded for a request whose client went away first (nginx's convention). */
export const CLIENT_CLOSED = 499;

/** `POST /v1/completions`; resolves to the status to count. */
export async function handleCompletions(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const p = parseCompletionRequest(await readJson(req));
  checkModel(ctx, p.model);
  checkLogitBias(p, ctx.config.vocabSize);
  const ids = p.prompt.kind === "text" ? await encodeText(ctx, p.prompt.text, "prompt") : promptIds(ctx.tokenizer, p.prompt, ctx.config.vocabSize);
  checkPromptLength(ids, ctx.config.contextLength, "prompt");
  const echo = p.echo ? (p.prompt.kind === "text" ? p.prompt.text : ctx.tokenizer.decode(ids)) : "";
  const shape = completionShape(shapeOptions(ctx, p, ids, p.logprobs), echo);
  return generate(ctx, res, { ids, maxTokens: clipMaxTokens(p.maxTokens ?? 16, ids.length, ctx.config.contextLength), params: p, shape, topLogprobs: p.logprobs ?? 0, continues: true });
}

/** `POST /v1/chat/completions`; resolves to the status to count. */
export async function handleChat(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const p = parseChatRequest(await readJson(req));
  checkModel(ctx, p.model);
  checkLogitBias(p, ctx.config.vocabSize);
  const ids = await encodeText(ctx, renderChat(p.messages), "messages");
  checkPromptLength(ids, ctx.config.contextLength, "messages");
  const shape = chatShape(shapeOptions(ctx, p, ids, p.logprobs ? p.topLogprobs : null));
  return generate(ctx, res, { ids, maxTokens: clipMaxTokens(p.maxTokens ?? ctx.config.contextLength, ids.length, ctx.config.contextLength), params: p, shape, topLogprobs: p.logprobs ? p.topLogprobs : 0 });
}

/** Tokenise a prompt text off the event loop, refusing one longer than `maxPromptBytes` before any work. */
async function encodeText(ctx: HandlerContext, text: string, param: string): Promise<number[]> {
  const bytes = Buffer.byteLength(text);
  if (bytes > ctx.maxPromptBytes)
    throw new InvalidRequestError(
      `The prompt text is ${bytes} bytes; this server tokenises at most ${ctx.maxPromptBytes} bytes (--max-prompt-bytes), far more than a prompt of the model's ${ctx.config.contextLength}-token context needs. Please reduce the length of the prompt.`,
      "context_length_exceeded",
      { param },
    );
  return ctx.encoder.encode(text);
}

function checkModel(ctx: HandlerContext, model: string | undefined): void {
  if (model !== undefined && model !== ctx.modelName)
    throw new NotFoundError(`The model '${model}' does not exist; this server serves '${ctx.modelName}' (see GET /v1/models)`, "model_not_found", { param: "model" });
}

function shapeOptions(ctx: HandlerContext, p: CommonParams, ids: readonly number[], logprobs: number | null): ShapeOptions {
  return { tokenizer: ctx.tokenizer, model: ctx.modelName, promptIds: ids, logprobs, returnTokenIds: p.returnTokenIds, includeUsage: p.stream && p.includeUsage };
}

interface Generation {
  readonly ids: readonly number[];
  readonly maxTokens: number;
  readonly params: CommonParams;
  readonly shape: ResponseShape;
  /** Top alternatives wanted per token (0 = none). */
  readonly topLogprobs: number;
  /** The output continues the prompt's text (completions): decode it after the prompt so its first space stays. */
  readonly continues?: boolean;
}

/** Run one generation and answer it; resolves when the response is over, to the status to count. */
function generate(ctx: HandlerContext, res: ServerResponse, g: Generation): Promise<number> {
  return new Promise<number>((resolve) => {
    const out = new OutputAssembler(ctx.tokenizer, g.params.stop, g.continues ? g.ids : []);
    const sse = g.params.stream ? new SseWriter(res) : null;
    let over = false;
    let unsent = "";
    const finish = (status: number): void => {
      if (over) return;
      over = true;
      resolve(status);
    };
    const complete = (reason: FinishReason): void => {
      const tail = unsent + out.finish();
      unsent = "";
      const u = usage(g.ids.length, out.tokenIds.length);
      if (sse) {
        sse.send(g.shape.chunk({ text: tail, span: out.take(), finishReason: reason }));
        if (g.params.includeUsage) sse.send(g.shape.usageChunk(u));
        sse.done();
      } else {
        sendJson(res, 200, g.shape.full({ text: out.text, span: out.take(), finishReason: reason }, u));
      }
      finish(200);
    };
    const fail = (err: GatewayError): void => {
      if (over) return;
      if (err.status >= 500) ctx.logger.warn({ err, code: err.code }, "generation failed");
      else ctx.logger.debug({ code: err.code, status: err.status }, "request refused");
      try {
        if (sse && res.headersSent) {
          sse.send(err.toBody());
          sse.done();
        } else sendError(res, err);
      } catch (e) {
        ctx.logger.error({ err: e }, "cannot send the error; dropping the connection");
        res.destroy();
      }
      finish(err.status);
    };
    const guard =
      <A extends unknown[]>(f: (...a: A) => void) =>
      (...a: A): void => {
        try {
          f(...a);
        } catch (e) {
          fail(asGatewayError(e));
        }
      };
    let handle: SequenceHandle;
    try {
      handle = ctx.scheduler.submit(
        { promptIds: g.ids, maxTokens: g.maxTokens, ignoreEos: g.params.ignoreEos, sampling: samplingOf(g.params, g.topLogprobs) },
        {
          onToken: (token, logprob, top) => {
            const r = out.push(token, logprob, top);
            unsent += r.text;
            if (sse && unsent.length > 0 && !r.stopped) {
              sse.send(g.shape.chunk({ text: unsent, span: out.take(), finishReason: null }));
              unsent = "";
            }
            return !r.stopped;
          },
          onFinish: guard(complete),
          onError: fail,
        },
      );
    } catch (err) {
      fail(asGatewayError(err));
      return;
    }
    const gone = (): void => {
      if (over) return;
      handle.cancel();
      ctx.logger.debug({ seq: handle.id }, "client went away: sequence cancelled");
      finish(CLIENT_CLOSED);
    };
    res.on("close", gone);
    if (res.socket?.destroyed ?? true) return gone();
    if (sse) {
      sse.open();
      const opening = g.shape.opening();
      if (opening) sse.send(opening);
    }
  });
}

/** The sampler's settings of a request (top logprobs computed on the last stage only when asked for). */
function samplingOf(p: CommonParams, topLogprobs: number): SamplingParams {
  return {
    temperature: p.temperature,
    topP: p.topP,
    ...(p.topK ? { topK: p.topK } : {}),
    ...(p.minP ? { minP: p.minP } : {}),
    ...(p.presencePenalty ? { presencePenalty: p.presencePenalty } : {}),
    ...(p.frequencyPenalty ? { frequencyPenalty: p.frequencyPenalty } : {}),
    ...(p.repetitionPenalty !== 1 ? { repetitionPenalty: p.repetitionPenalty } : {}),
    ...(p.logitBias.size ? { logitBias: p.logitBias } : {}),
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
    ...(topLogprobs > 0 ? { topLogprobs } : {}),
  };
}

/** Throws a 400 when a logit_bias key is outside the vocabulary. */
function checkLogitBias(p: CommonParams, vocabSize: number): void {
  for (const id of p.logitBias.keys())
    if (id >= vocabSize) throw new InvalidRequestError(`logit_bias token id ${id} is outside the vocabulary (0..${vocabSize - 1})`, "invalid_value", { param: "logit_bias" });
}
