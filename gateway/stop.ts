/**
 * Stop strings on streamed text (pure): text is released only once no stop
 * string can still start in it, and output ends before the first match
 * (OpenAI: the stop string itself is not returned).
 */

/** Result of feeding text to a {@link StopMatcher}. */
export interface StopPush {
  /** Text that is now final. */
  readonly text: string;
  /** A stop string matched: nothing follows `text`. */
  readonly stopped: boolean;
}

export class StopMatcher {
  private held = "";
  private stoppedFlag = false;

  /** @param stops non-empty stop strings (none = pass-through). */
  constructor(private readonly stops: readonly string[]) {}

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** Add decoded text; returns what can be released. */
  push(delta: string): StopPush {
    if (this.stoppedFlag) return { text: "", stopped: true };
    if (this.stops.length === 0) return { text: delta, stopped: false };
    const buf = this.held + delta;
    let cut = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.held = "";
      this.stoppedFlag = true;
      return { text: buf.slice(0, cut), stopped: true };
    }
    const keep = heldSuffix(buf, this.stops);
    this.held = buf.slice(buf.length - keep);
    return { text: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** End of output: the held-back text (empty after a match). */
  flush(): string {
    const out = this.stoppedFlag ? "" : this.held;
    this.held = "";
    return out;
  }
}

/** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
export function heldSuffix(text: string, stops: readonly string[]): number {
  let best = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > best; n--) {
      if (text.endsWith(s.slice(0, n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}
