/**
 * One choice's output as it streams: token ids → text (UTF-8 safe, via
 * {@link StreamDecoder}) → stop strings, keeping the ids, logprobs and text
 * offsets that the response's `logprobs` / `token_ids` report.
 */
import { StreamDecoder, type Tokenizer, type TopLogprob } from "../model/index.js";
import { StopMatcher } from "./stop.js";

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;
/** Prompt ids decoded ahead of the output (enough to leave the stream-start rule and any byte run). */
const CONTEXT_IDS = 16;

/** A token as OpenAI's logprobs show it: its text and UTF-8 bytes. */
export interface TokenText {
  readonly text: string;
  readonly bytes: number[];
}

/** The display text of one token id: its piece with "▁" as a space; a byte piece shows as OpenAI's `bytes:\xNN`. */
export function tokenText(tok: Tokenizer, id: number): TokenText {
  let piece: string;
  try {
    piece = tok.idToPiece(id);
  } catch {
    return { text: "", bytes: [] };
  }
  const m = BYTE_PIECE.exec(piece);
  if (m) return { text: `bytes:\\x${m[1]!.toLowerCase()}`, bytes: [parseInt(m[1]!, 16)] };
  const text = piece.replaceAll("\u2581", " ");
  return { text, bytes: [...Buffer.from(text, "utf8")] };
}

/** Tokens of one output range, for a chunk's `logprobs` / `token_ids`. */
export interface TokenSpan {
  readonly ids: readonly number[];
  readonly logprobs: readonly number[];
  /** Each token's most likely alternatives (when the request asked for top logprobs). */
  readonly top: readonly (readonly TopLogprob[])[];
  /** Character offset of each token's text in the completion text. */
  readonly offsets: readonly number[];
}

export class OutputAssembler {
  private readonly decoder: StreamDecoder;
  private readonly stop: StopMatcher;
  private readonly ids: number[] = [];
  private readonly lps: number[] = [];
  private readonly tops: (readonly TopLogprob[])[] = [];
  private readonly offs: number[] = [];
  private decodedChars = 0;
  private taken = 0;
  /** Released text so far. */
  text = "";

  /**
   * @param stops stop strings
   * @param context ids the output continues (the prompt's tail): decoding starts after them, so the
   *   first output token keeps its leading space as in `decode(prompt + output)`; none = decode the
   *   output on its own (SentencePiece drops the first piece's leading space).
   */
  constructor(tok: Tokenizer, stops: readonly string[], context: readonly number[] = []) {
    this.decoder = new StreamDecoder(tok);
    this.stop = new StopMatcher(stops);
    for (const id of context.slice(-CONTEXT_IDS)) this.decoder.push(id);
  }

  /** Output tokens so far. */
  get tokenIds(): readonly number[] {
    return this.ids;
  }

  get logprobs(): readonly number[] {
    return this.lps;
  }

  get offsets(): readonly number[] {
    return this.offs;
  }

  /** Add a sampled token; returns the newly released text and whether a stop string matched. */
  push(id: number, logprob: number, top: readonly TopLogprob[] = []): { text: string; stopped: boolean } {
    this.ids.push(id);
    this.lps.push(logprob);
    this.tops.push(top);
    this.offs.push(this.decodedChars);
    let delta = "";
    try {
      delta = this.decoder.push(id);
    } catch {
      // an id the tokenizer lacks (model vocabulary padded past the tokenizer's): no text
    }
    this.decodedChars += delta.length;
    const r = this.stop.push(delta);
    this.text += r.text;
    return r;
  }

  /** End of output: the text still held back (an incomplete UTF-8 tail, a partial stop string). */
  finish(): string {
    let out = "";
    if (!this.stop.stopped) {
      const r = this.stop.push(this.decoder.flush());
      out = r.text + this.stop.flush();
    }
    this.text += out;
    return out;
  }

  /** Tokens not yet reported by a previous `take()`. */
  take(): TokenSpan {
    const from = this.taken;
    this.taken = this.ids.length;
    return { ids: this.ids.slice(from), logprobs: this.lps.slice(from), top: this.tops.slice(from), offsets: this.offs.slice(from) };
  }
}
