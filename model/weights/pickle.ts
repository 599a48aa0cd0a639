/**
 * A reader of the Python pickle subset that xAI's Grok-1 checkpoint uses (XAI_CHECKPOINT.md §2):
 * protocol 2–5 opcodes for tuples, dicts, strings, ints, bytes, globals, REDUCE/NEWOBJ/BUILD and the
 * memo. It never runs code: a global is looked up in a fixed table of the classes the checkpoint
 * names (numpy arrays and dtypes, `ml_dtypes.bfloat16`, `QuantizedWeight8bit`), and anything else is
 * an error naming the file, the byte offset and the global. Large byte payloads are not read: they
 * are returned as {@link PickleBytes} (file offset + length) for a later range read.
 */
import { WeightFileError } from "../errors.js";
import type { RandomAccessFile } from "./tensor-file.js";

/** A bytes object of the pickle, by position: `data` is set only for small payloads. */
export interface PickleBytes {
  readonly kind: "bytes";
  /** Absolute file offset of the payload. */
  readonly offset: number;
  readonly length: number;
  /** The payload, when it is at most {@link INLINE_BYTES} long. */
  readonly data?: Uint8Array;
}

/** A global (`module.name`) the table allows. */
export interface PickleGlobal {
  readonly kind: "global";
  readonly module: string;
  readonly name: string;
}

/** The result of REDUCE or NEWOBJ on an allowed global, before BUILD. */
export interface PickleObject {
  readonly kind: "object";
  readonly cls: PickleGlobal;
  readonly args: readonly PickleValue[];
  /** Set by BUILD. */
  state?: PickleValue;
}

/** Values a checkpoint pickle holds. */
export type PickleValue = null | boolean | number | bigint | string | PickleBytes | PickleGlobal | PickleObject | readonly PickleValue[] | Map<PickleValue, PickleValue>;

/** Payloads up to this many bytes are read into memory while parsing. */
export const INLINE_BYTES = 1 << 20;

/** The globals a Grok-1 checkpoint names (numpy 1.x and 2.x module paths). */
export const ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  "numpy.core.multiarray._reconstruct",
  "numpy._core.multiarray._reconstruct",
  "numpy.ndarray",
  "numpy.dtype",
  "ml_dtypes.bfloat16",
  "__main__.QuantizedWeight8bit",
  "model.QuantizedWeight8bit",
]);

/** Whether `v` is one of the tagged pickle values (bytes, global, object). */
export function isTagged(v: PickleValue | undefined): v is PickleBytes | PickleGlobal | PickleObject {
  return v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v) && !(v instanceof Map);
}

const MARK = Symbol("mark");
type StackItem = PickleValue | typeof MARK;

/** Longest string accepted (module and class names, dict keys). */
const MAX_STRING = 1 << 16;
/** Header bytes fetched per read. */
const CHUNK = 1 << 16;

/** Buffered forward reader over a file region. */
class Cursor {
  pos: number;
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  constructor(
    private readonly raf: RandomAccessFile,
    pos: number,
  ) {
    this.pos = pos;
  }
  fail(what: string): never {
    throw new WeightFileError(`${this.raf.file}: pickle ${what} at byte ${this.pos}`, {
      file: this.raf.file,
      fix: "the file is truncated or not a Grok-1 checkpoint tensor; download it again",
    });
  }
  take(n: number): Uint8Array {
    if (this.pos + n > this.raf.size) this.fail(`truncated (needs ${n} more bytes; the file has ${this.raf.size})`);
    if (this.pos < this.start || this.pos + n > this.start + this.buf.length) {
      this.start = this.pos;
      this.buf = this.raf.readAt(this.pos, Math.min(Math.max(n, CHUNK), this.raf.size - this.pos), "pickle opcodes");
    }
    const at = this.pos - this.start;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }
  u8(): number {
    return this.take(1)[0]!;
  }
  uint(n: 1 | 2 | 4 | 8): number {
    const b = this.take(n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i]!;
    if (!Number.isSafeInteger(v)) this.fail(`length ${v} is too large`);
    return v;
  }
  i32(): number {
    const b = this.take(4);
    return b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
  }
  str(n: number): string {
    if (n > MAX_STRING) this.fail(`string of ${n} bytes is longer than ${MAX_STRING}`);
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(this.take(n));
  }
  bytes(n: number): PickleBytes {
    const offset = this.pos;
    if (offset + n > this.raf.size) this.fail(`bytes of ${n} bytes run past the end of the file (${this.raf.size} bytes): truncated`);
    if (n <= INLINE_BYTES) return { kind: "bytes", offset, length: n, data: this.take(n).slice() };
    this.pos += n;
    return { kind: "bytes", offset, length: n };
  }
}

/** Little-endian two's complement integer of LONG1/LONG4 bytes. */
function longValue(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * Parse the pickle that starts at byte `start` of `raf` and return its value (STOP's top of stack).
 * @throws WeightFileError naming the file and offset for an unknown opcode, a global outside
 *   {@link ALLOWED_GLOBALS}, a malformed stack, or a truncated file.
 */
export function readPickle(raf: RandomAccessFile, start = 0): PickleValue {
  const c = new Cursor(raf, start);
  const stack: StackItem[] = [];
  const memo = new Map<number, PickleValue>();
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) c.fail("stack underflow");
    return v as PickleValue;
  };
  const popMark = (): PickleValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) c.fail("has no MARK to close");
    const items = stack.splice(i) as PickleValue[];
    items.shift();
    return items;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) c.fail("stack underflow");
    return v as PickleValue;
  };
  const global = (module: string, name: string): PickleGlobal => {
    const full = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(full))
      throw new WeightFileError(`${raf.file}: pickle names global '${full}' at byte ${c.pos}, which a Grok-1 checkpoint does not use; refusing to load it`, {
        file: raf.file,
        fix: "pass xAI's ckpt-0 tensor files (numpy arrays and QuantizedWeight8bit only)",
      });
    return { kind: "global", module, name };
  };
  const construct = (cls: PickleValue, args: PickleValue): PickleObject => {
    if (!isTagged(cls) || cls.kind !== "global") c.fail("calls something that is not a global");
    if (!Array.isArray(args)) c.fail("passes arguments that are not a tuple");
    return { kind: "object", cls: cls as PickleGlobal, args: args as PickleValue[] };
  };
  const setItems = (d: PickleValue, kv: PickleValue[]) => {
    if (!(d instanceof Map)) c.fail("sets items on something that is not a dict");
    for (let i = 0; i + 1 < kv.length; i += 2) (d as Map<PickleValue, PickleValue>).set(kv[i]!, kv[i + 1]!);
  };
  for (;;) {
    const at = c.pos;
    const op = c.u8();
    switch (op) {
      case 0x80: // PROTO
        if (c.u8() > 5) c.fail("protocol is newer than 5");
        break;
      case 0x95: // FRAME: a length prefix only; opcodes continue
        c.uint(8);
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(c.u8());
        break;
      case 0x4d: // BININT2
        stack.push(c.uint(2));
        break;
      case 0x4a: // BININT
        stack.push(c.i32());
        break;
      case 0x8a: // LONG1
        stack.push(longValue(c.take(c.u8())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(c.str(c.u8()));
        break;
      case 0x58: // BINUNICODE
        stack.push(c.str(c.uint(4)));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(c.str(c.uint(8)));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(c.bytes(c.u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(c.bytes(c.uint(4)));
        break;
      case 0x8e: // BINBYTES8
        stack.push(c.bytes(c.uint(8)));
        break;
      case 0x96: // BYTEARRAY8 (protocol 5)
        stack.push(c.bytes(c.uint(8)));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c3 = pop();
        const b = pop();
        stack.push([pop(), b, c3]);
        break;
      }
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x71: // BINPUT
        memo.set(c.u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(c.uint(4), top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const k = op === 0x68 ? c.u8() : c.uint(4);
        if (!memo.has(k)) c.fail(`reads memo ${k}, which was never stored`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof name !== "string" || typeof module !== "string") c.fail("STACK_GLOBAL needs two strings");
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x63: {
        // GLOBAL (text, protocols 0–3): "module\nname\n"
        const line = () => {
          let s = "";
          for (let ch = c.u8(); ch !== 0x0a; ch = c.u8()) {
            s += String.fromCharCode(ch);
            if (s.length > 256) c.fail("GLOBAL name is too long");
          }
          return s;
        };
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(construct(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        stack.push(construct(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (!isTagged(obj) || obj.kind !== "object") c.fail("BUILD on something that is not an object");
        (obj as PickleObject).state = state;
        break;
      }
      default:
        c.pos = at;
        c.fail(`opcode 0x${op.toString(16).padStart(2, "0")} is not one a Grok-1 checkpoint uses`);
    }
  }
}
