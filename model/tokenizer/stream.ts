/**
 * Incremental detokenisation for streaming (CLI, HTTP gateway): each pushed id yields only the
 * text that became final, holding back the tail of an incomplete UTF-8 byte-piece sequence.
 *
 * Invariant: the concatenation of every `push` result and the final `flush` equals
 * `tok.decode(allIds)`.
 *
 * How: the stream is decoded in windows. The first window starts at the stream start, so the
 * SentencePiece rule "drop the dummy-prefix space of the first piece" applies exactly as in a
 * full decode. Once that rule is over (checked by decoding a space piece after the text) and the
 * last id is not a byte piece, the window restarts after it; later windows are decoded behind a
 * fixed "sentinel" piece whose text is cut off again, so their first piece keeps its space and
 * byte runs never straddle two windows. Each push therefore decodes only a few ids.
 */
import type { Tokenizer } from "./types.js";

const BYTE_PIECE = /^<0x[0-9A-Fa-f]{2}>$/;
const REPLACEMENT = 0xfffd;

/** Per-tokenizer helpers found by probing the decoder; `null` when none fit (then no windows). */
interface Probes {
  sentinel: number;
  sentinelText: string;
  space: number;
  spaceText: string;
}

const probeCache = new WeakMap<Tokenizer, Probes | null>();

function findProbes(tok: Tokenizer): Probes | null {
  const limit = Math.min(tok.vocabSize, 1 << 16);
  let sentinel = -1;
  let sentinelText = "";
  for (let id = 0; id < limit && sentinel < 0; id++) {
    const piece = tok.idToPiece(id);
    if (piece.length === 0 || piece.includes("\u2581") || BYTE_PIECE.test(piece)) continue;
    if (tok.decode([id]) === piece && tok.decode([id, id]) === piece + piece) {
      sentinel = id;
      sentinelText = piece;
    }
  }
  if (sentinel < 0) return null;
  for (let id = 0; id < limit; id++) {
    const piece = tok.idToPiece(id);
    if (!piece.startsWith("\u2581")) continue;
    const spaceText = piece.replaceAll("\u2581", " ");
    if (tok.decode([sentinel, id]) === sentinelText + spaceText) return { sentinel, sentinelText, space: id, spaceText };
  }
  return null;
}

/** Streams `tok.decode` one id at a time. */
export class StreamDecoder {
  private readonly probes: Probes | null;
  /** Ids of the current window. */
  private window: number[] = [];
  /** UTF-16 length of the window's text already returned. */
  private emitted = 0;
  /** Whether the window is decoded behind the sentinel (i.e. it is not the stream start). */
  private anchored = false;

  constructor(private readonly tok: Tokenizer) {
    let probes = probeCache.get(tok);
    if (probes === undefined) {
      probes = findProbes(tok);
      probeCache.set(tok, probes);
    }
    this.probes = probes;
  }

  /** Adds one token id; returns the text it completes (possibly ""). Throws TokenizerError for an id outside the vocabulary. */
  push(id: number): string {
    this.window.push(id);
    let text: string;
    try {
      text = this.windowText(this.window);
    } catch (err) {
      this.window.pop();
      throw err;
    }
    const isByte = BYTE_PIECE.test(this.tok.idToPiece(id));
    let end = text.length;
    if (isByte) while (end > this.emitted && text.charCodeAt(end - 1) === REPLACEMENT) end--;
    const out = end > this.emitted ? text.slice(this.emitted, end) : "";
    this.emitted = Math.max(this.emitted, end);
    if (!isByte) this.maybeRestartWindow(text);
    return out;
  }

  /** Ends the stream: returns the text still held back (e.g. an incomplete UTF-8 tail as U+FFFD) and resets. */
  flush(): string {
    const text = this.window.length > 0 ? this.windowText(this.window) : "";
    const out = text.slice(this.emitted);
    this.window = [];
    this.emitted = 0;
    this.anchored = false;
    return out;
  }

  private windowText(ids: readonly number[]): string {
    if (!this.anchored || !this.probes) return this.tok.decode(ids);
    return this.tok.decode([this.probes.sentinel, ...ids]).slice(this.probes.sentinelText.length);
  }

  /** Starts a new window after the current (fully emitted, non-byte-ending) one when that is exact. */
  private maybeRestartWindow(text: string): void {
    const p = this.probes;
    if (!p) return;
    if (!this.anchored) {
      // Still at the stream start: only leave it once a following space piece keeps its space.
      if (this.tok.decode([...this.window, p.space]) !== text + p.spaceText) return;
      this.anchored = true;
    }
    this.window = [];
    this.emitted = 0;
  }
}
