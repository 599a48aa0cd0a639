/** Server-sent events (text/event-stream) decoding, incremental: only `data` fields matter here. */

/** Incremental SSE decoder: feed text, get the `data` payload of every completed event. */
export class SseParser {
  private buf = "";
  private data: string[] = [];

  /** Feed decoded text; returns the data of each event completed by it (multi-line data joined by "\n"). */
  push(text: string): string[] {
    this.buf += text;
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const m = /\r\n|\r|\n/g;
      m.lastIndex = start;
      const hit = m.exec(this.buf);
      // A trailing "\r" may be the first half of "\r\n": wait for the next chunk.
      if (!hit || (hit[0] === "\r" && hit.index === this.buf.length - 1)) break;
      this.line(this.buf.slice(start, hit.index), out);
      start = hit.index + hit[0].length;
    }
    this.buf = this.buf.slice(start);
    return out;
  }

  /** End of stream: the last event, if it was not terminated by a blank line. */
  end(): string[] {
    const out: string[] = [];
    if (this.buf.length > 0) this.line(this.buf.replace(/\r$/, ""), out);
    this.buf = "";
    this.line("", out);
    return out;
  }

  private line(line: string, out: string[]): void {
    if (line === "") {
      if (this.data.length > 0) out.push(this.data.join("\n"));
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
  }
}
