/**
 * A writer of the pickle subset xAI's checkpoint uses, byte for byte as CPython's C pickler writes
 * it at protocol 4: memo (MEMOIZE / BINGET) for strings, globals, shared constants and every
 * container, FRAME opcodes of about 64 KiB (a frame is closed at the start of the first `save` that
 * finds it at or past 65536 bytes; frames under 4 bytes carry no FRAME header), and payloads of
 * 64 KiB or more written outside any frame. The output is a list of byte parts: large payloads are
 * referenced, never copied.
 */

/** CPython's `_FRAME_SIZE_TARGET`. */
const FRAME_SIZE_TARGET = 64 * 1024;
/** Frames shorter than this get no FRAME opcode (`FRAME_SIZE_MIN`). */
const FRAME_SIZE_MIN = 4;

/** Growable byte buffer. */
class Buf {
  bytes = new Uint8Array(256);
  length = 0;
  push(b: ArrayLike<number>): void {
    if (this.length + b.length > this.bytes.length) {
      const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + b.length));
      next.set(this.bytes.subarray(0, this.length));
      this.bytes = next;
    }
    this.bytes.set(b, this.length);
    this.length += b.length;
  }
}

const le = (n: number, width: 4 | 8): number[] => {
  const out: number[] = [];
  let v = BigInt(n);
  for (let i = 0; i < width; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
};

/** A protocol-4 pickle under construction. Each `save*` method is one CPython `save()` call. */
export class Pickler {
  private readonly parts: Uint8Array[] = [];
  private frame: Buf | undefined;
  private readonly memo = new Map<string, number>();
  private memoCount = 0;

  constructor() {
    this.parts.push(Uint8Array.of(0x80, 4)); // PROTO 4, before framing starts
  }

  /** Bytes into the current frame (opened on demand). */
  private write(b: ArrayLike<number>): void {
    this.frame ??= new Buf();
    this.frame.push(b);
  }

  private commit(): void {
    const f = this.frame;
    if (!f) return;
    this.frame = undefined;
    if (f.length === 0) return;
    if (f.length >= FRAME_SIZE_MIN) this.parts.push(Uint8Array.from([0x95, ...le(f.length, 8)]));
    this.parts.push(f.bytes.slice(0, f.length));
  }

  /** The start of every `save()`: close a full frame. */
  private boundary(): void {
    if (this.frame && this.frame.length >= FRAME_SIZE_TARGET) this.commit();
  }

  /** Emit MEMOIZE and remember `key` (when given) at the next memo index. */
  private memoize(key?: string): void {
    if (key !== undefined) this.memo.set(key, this.memoCount);
    this.memoCount++;
    this.write([0x94]);
  }

  /** Emit BINGET / LONG_BINGET when `key` is memoized; returns whether it was. */
  private get(key: string): boolean {
    const i = this.memo.get(key);
    if (i === undefined) return false;
    this.write(i < 256 ? [0x68, i] : [0x6a, ...le(i, 4)]);
    return true;
  }

  saveNone(): void {
    this.boundary();
    this.write([0x4e]);
  }

  saveBool(v: boolean): void {
    this.boundary();
    this.write([v ? 0x88 : 0x89]);
  }

  /** An int in the int32 range: BININT1, BININT2 or BININT. */
  saveInt(v: number): void {
    this.boundary();
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`pickler: ${v} is not an int32`);
    if (v >= 0 && v < 256) this.write([0x4b, v]);
    else if (v >= 0 && v < 65536) this.write([0x4d, v & 0xff, v >>> 8]);
    else this.write([0x4a, ...le(v >>> 0, 4)]);
  }

  /** A str: interned, so an equal string already written is a memo reference. */
  saveStr(s: string): void {
    this.boundary();
    if (this.get(`s:${s}`)) return;
    const b = new TextEncoder().encode(s);
    this.write(b.length < 256 ? [0x8c, b.length] : [0x58, ...le(b.length, 4)]);
    this.write(b);
    this.memoize(`s:${s}`);
  }

  /**
   * A bytes object. `shared` names a constant object (such as numpy's `b'b'`) that is memoized by
   * identity; payloads of 64 KiB and more bypass the frame.
   */
  saveBytes(b: Uint8Array, shared?: string): void {
    this.boundary();
    const key = shared === undefined ? undefined : `b:${shared}`;
    if (key !== undefined && this.get(key)) return;
    const n = b.length;
    const header = n < 256 ? [0x43, n] : n <= 0xffffffff ? [0x42, ...le(n, 4)] : [0x8e, ...le(n, 8)];
    if (n >= FRAME_SIZE_TARGET) {
      this.commit();
      this.parts.push(Uint8Array.from(header), b);
    } else {
      this.write(header);
      this.write(b);
    }
    this.memoize(key);
  }

  /** A class or function (`module.name`), written once and memoized. */
  saveGlobal(module: string, name: string): void {
    this.boundary();
    if (this.get(`g:${module}.${name}`)) return;
    this.saveStr(module);
    this.saveStr(name);
    this.write([0x93]);
    this.memoize(`g:${module}.${name}`);
  }

  /** A new tuple of the items each `save` callback writes. */
  saveTuple(items: readonly (() => void)[]): void {
    this.boundary();
    if (items.length === 0) return this.write([0x29]);
    if (items.length <= 3) {
      for (const s of items) s();
      this.write([[0x85, 0x86, 0x87][items.length - 1]!]);
    } else {
      this.write([0x28]);
      for (const s of items) s();
      this.write([0x74]);
    }
    this.memoize();
  }

  /**
   * An object built by `func(*args)` then BUILD with `state` (numpy arrays, dtypes). `shared`
   * memoizes the result by name (numpy dtypes are singletons).
   */
  saveReduce(func: () => void, args: () => void, state: () => void, shared?: string): void {
    this.boundary();
    const key = shared === undefined ? undefined : `o:${shared}`;
    if (key !== undefined && this.get(key)) return;
    func();
    args();
    this.write([0x52]);
    this.memoize(key);
    state();
    this.write([0x62]);
  }

  /** `cls.__new__(cls)` then BUILD with an attribute dict (a dataclass's default reduce). */
  saveNewObj(cls: () => void, attrs: readonly [string, () => void][]): void {
    this.boundary();
    cls();
    this.saveTuple([]);
    this.write([0x81]);
    this.memoize();
    // the attribute dict
    this.boundary();
    this.write([0x7d]);
    this.memoize();
    if (attrs.length === 1) {
      this.saveStr(attrs[0]![0]);
      attrs[0]![1]();
      this.write([0x73]);
    } else if (attrs.length > 1) {
      this.write([0x28]);
      for (const [k, v] of attrs) {
        this.saveStr(k);
        v();
      }
      this.write([0x75]);
    }
    this.write([0x62]);
  }

  /** STOP, close the last frame and return the pickle's parts in order. */
  finish(): Uint8Array[] {
    this.write([0x2e]);
    this.commit();
    return this.parts;
  }
}
