/**
 * Bounds-checked reads over one flatbuffer (an Arrow IPC message's metadata) for ipc.ts's verifier: every
 * offset, length and count is checked against the buffer and the caps the caller gives, and a violation
 * throws {@link MalformedFrameError} (via {@link malformed}).
 */
import { MalformedFrameError } from "./errors.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Throw a {@link MalformedFrameError} for a frame whose Arrow IPC framing is broken. */
export function malformed(message: string): never {
  throw new MalformedFrameError(`Arrow IPC: ${message}`);
}

/** A flatbuffer table: its position, its vtable and their sizes, bytes. */
export interface Table {
  readonly pos: number;
  readonly vtable: number;
  readonly vtableSize: number;
  readonly tableSize: number;
}

/** Bounds-checked reads over one flatbuffer (a message's metadata). */
export class Flatbuffer {
  private readonly view: DataView;
  private readonly size: number;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.size = bytes.byteLength;
  }

  private check(pos: number, width: number, what: string): void {
    if (pos < 0 || pos + width > this.size) malformed(`${what} at ${pos} lies outside the ${this.size}-byte metadata`);
  }

  u8(pos: number): number {
    this.check(pos, 1, "byte");
    return this.view.getUint8(pos);
  }
  u16(pos: number): number {
    this.check(pos, 2, "uint16");
    return this.view.getUint16(pos, true);
  }
  i32(pos: number): number {
    this.check(pos, 4, "int32");
    return this.view.getInt32(pos, true);
  }
  u32(pos: number): number {
    this.check(pos, 4, "uint32");
    return this.view.getUint32(pos, true);
  }
  /** A non-negative int64 that fits a safe integer. */
  u53(pos: number, what: string): number {
    this.check(pos, 8, what);
    const lo = this.view.getUint32(pos, true);
    const hi = this.view.getInt32(pos + 4, true);
    if (hi < 0 || hi > 0x1fffff) malformed(`${what} ${hi < 0 ? "is negative" : "exceeds 2^53"}`);
    return hi * 0x100000000 + lo;
  }

  /** The table at `pos`, with its vtable checked. */
  table(pos: number, what: string): Table {
    if (pos % 4 !== 0) malformed(`${what} table at ${pos} is misaligned`);
    const vtable = pos - this.i32(pos);
    if (vtable % 2 !== 0) malformed(`${what} vtable at ${vtable} is misaligned`);
    const vtableSize = this.u16(vtable);
    const tableSize = this.u16(vtable + 2);
    if (vtableSize < 4 || vtableSize % 2 !== 0) malformed(`${what} vtable size ${vtableSize} is invalid`);
    this.check(vtable, vtableSize, `${what} vtable`);
    if (tableSize < 4) malformed(`${what} table size ${tableSize} is invalid`);
    this.check(pos, tableSize, `${what} table`);
    return { pos, vtable, vtableSize, tableSize };
  }

  root(what: string): Table {
    return this.table(this.u32(0), what);
  }

  /** Absolute position of field `index` (of `width` bytes) in `t`, or -1 when absent. */
  field(t: Table, index: number, width: number, what: string): number {
    const slot = 4 + 2 * index;
    if (slot >= t.vtableSize) return -1;
    const off = this.u16(t.vtable + slot);
    if (off === 0) return -1;
    if (off + width > t.tableSize) malformed(`${what} field ${index} overruns its table`);
    return t.pos + off;
  }

  scalarU8(t: Table, index: number, fallback: number, what: string): number {
    const p = this.field(t, index, 1, what);
    return p < 0 ? fallback : this.u8(p);
  }
  scalarI16(t: Table, index: number, fallback: number, what: string): number {
    const p = this.field(t, index, 2, what);
    return p < 0 ? fallback : this.view.getInt16(p, true);
  }
  scalarI32(t: Table, index: number, fallback: number, what: string): number {
    const p = this.field(t, index, 4, what);
    return p < 0 ? fallback : this.i32(p);
  }
  scalarU53(t: Table, index: number, what: string): number {
    const p = this.field(t, index, 8, what);
    return p < 0 ? 0 : this.u53(p, what);
  }

  /** Target of the offset stored in field `index`, or -1 when absent. */
  private target(t: Table, index: number, what: string): number {
    const p = this.field(t, index, 4, what);
    if (p < 0) return -1;
    const target = p + this.u32(p);
    if (target >= this.size) malformed(`${what} points outside the metadata`);
    return target;
  }

  subTable(t: Table, index: number, what: string): Table | null {
    const target = this.target(t, index, what);
    return target < 0 ? null : this.table(target, what);
  }

  /** `{start, length}` of a vector of `width`-byte elements, checked against `max`; null when absent. */
  vector(t: Table, index: number, width: number, max: number, what: string): { start: number; length: number } | null {
    const target = this.target(t, index, what);
    if (target < 0) return null;
    if (target % 4 !== 0) malformed(`${what} vector is misaligned`);
    const length = this.u32(target);
    if (length > max) malformed(`${what} has ${length} entries, more than ${max}`);
    this.check(target + 4, length * width, `${what} vector`);
    return { start: target + 4, length };
  }

  /** The tables of a vector of tables (empty when absent). */
  tables(t: Table, index: number, max: number, what: string): Table[] {
    const v = this.vector(t, index, 4, max, what);
    const out: Table[] = [];
    if (v === null) return out;
    for (let i = 0; i < v.length; i++) {
      const p = v.start + 4 * i;
      out.push(this.table(p + this.u32(p), what));
    }
    return out;
  }

  /** Start (within the metadata) and length of the last string {@link string} read, bytes. */
  lastString = { start: 0, length: 0 };

  /** A UTF-8 string field (null-terminated, valid UTF-8), or null when absent. */
  string(t: Table, index: number, max: number, what: string): string | null {
    const v = this.vector(t, index, 1, max, what);
    if (v === null) return null;
    this.lastString = v;
    if (this.u8(v.start + v.length) !== 0) malformed(`${what} string is not null-terminated`);
    try {
      return utf8.decode(this.bytes.subarray(v.start, v.start + v.length));
    } catch (cause) {
      throw new MalformedFrameError(`Arrow IPC: ${what} is not valid UTF-8`, { cause });
    }
  }
}
