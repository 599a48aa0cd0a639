/**
 * The Arrow codec of DESIGN §3: one message = one Arrow IPC stream (schema +
 * one record batch) in one frame, the header in the schema's custom metadata.
 *
 * `encode` writes the stream straight into one frame (`ipc-writer.ts`; a test
 * reads every kind back with apache-arrow's own reader). `decode` caps the frame size,
 * verifies the IPC framing with bounded work (`ipc.ts`), checks header,
 * schema and sizes (`validate.ts`), then makes typed-array views of the
 * frame straight from the verified buffer layout (no second parse by
 * apache-arrow): no per-row copies, and for f32 not even one copy (f16 is
 * converted to f32 in one pass).
 */
import { EncodeError, FrameTooLargeError, InvalidMessageError, MalformedFrameError } from "./errors.js";
import { f16ArrayToF32, f32ArrayToF16, firstNonFiniteF16 } from "./f16.js";
import { verifyIpcStream, type IpcLayout } from "./ipc.js";
import { writeIpcFrame } from "./ipc-template.js";
import { writeIpcStream, type IpcColumn } from "./ipc-writer.js";
import { COLUMN_TYPES, HEADER_LIMITS, KINDS, type ColumnName } from "./kinds.js";
import { PROTOCOL_VERSION, type Message } from "./messages.js";
import {
  checkBatch,
  checkSchema,
  compileExpectation,
  firstNonFinite,
  parseHeader,
  rejectNonFinite,
  type CompiledExpectation,
  type Expectation,
  type ParsedHeader,
} from "./validate.js";

type Columns = Partial<Record<ColumnName, unknown>> & { dModel?: number; wireDtype?: string; hiddenF16?: Uint16Array };

function uintField(kind: string, key: string, value: unknown, max: number): string {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    throw new EncodeError(`${kind}: ${key} ${String(value)} is not an integer in [0, ${max}]`, { kind, field: key });
  }
  return String(value);
}

function nameField(kind: string, key: string, value: unknown): string {
  if (typeof value !== "string" || value.length > HEADER_LIMITS.name || !/^[\x20-\x7e]*$/.test(value)) {
    throw new EncodeError(`${kind}: ${key} must be at most ${HEADER_LIMITS.name} printable ASCII characters`, { kind, field: key });
  }
  return value;
}

/** A message's header as schema metadata: `keys[i] = values[i]`, in wire order. */
interface Header {
  readonly keys: string[];
  readonly values: string[];
}

/** Names already checked by {@link nameField} (senders and origins recur on every message). */
const checkedNames = new Set<string>();

function checkedName(kind: string, key: string, value: unknown): string {
  if (typeof value === "string" && checkedNames.has(value)) return value;
  const name = nameField(kind, key, value);
  if (checkedNames.size < 4096) checkedNames.add(name);
  return name;
}

/** The header of `msg` as schema metadata. */
function headerOf(msg: Message): Header {
  const { kind } = msg;
  const keys = ["kind", "v", "id"];
  const values = [kind, PROTOCOL_VERSION_TEXT, uintField(kind, "id", msg.id ?? 0, Number.MAX_SAFE_INTEGER)];
  const set = (k: string, v: string): void => {
    keys.push(k);
    values.push(v);
  };
  if (msg.batch !== undefined) set("batch", uintField(kind, "batch", msg.batch, 0xffffffff));
  if (msg.deadline !== undefined && msg.deadline !== 0) set("deadline", uintField(kind, "deadline", Math.ceil(msg.deadline), Number.MAX_SAFE_INTEGER));
  if (msg.sender !== undefined) set("sender", checkedName(kind, "sender", msg.sender));
  if (msg.origin !== undefined) set("origin", checkedName(kind, "origin", msg.origin));
  const m = msg as { layer?: number; expert?: unknown };
  if (m.layer !== undefined) set("layer", uintField(kind, "layer", m.layer, 0xffffffff));
  if (msg.kind === "error" && msg.expert !== undefined) set("expert", uintField(kind, "expert", msg.expert, 0xffffffff));
  if (msg.kind === "error") {
    if (typeof msg.code !== "string" || !/^[A-Za-z0-9_.:-]{1,64}$/.test(msg.code)) {
      throw new EncodeError(`error: code "${String(msg.code).slice(0, 80)}" must be 1–64 characters of [A-Za-z0-9_.:-]`, { kind, field: "code" });
    }
    set("code", msg.code);
    // the text may quote bytes of a rejected frame: no NULs, bounded length
    set("message", String(msg.message).replace(/\0/g, "\uFFFD").slice(0, HEADER_LIMITS.message));
    if (msg.host !== undefined) set("host", checkedName(kind, "host", msg.host));
  }
  return { keys, values };
}

const PROTOCOL_VERSION_TEXT = String(PROTOCOL_VERSION);

function column<T extends Uint32Array | Float32Array | Float64Array>(kind: string, name: ColumnName, value: unknown, rows: number, ctor: { new (n: number): T; name: string }): T {
  if (!(value instanceof ctor) || value.length !== rows) {
    throw new EncodeError(`${kind}: column ${name} must be a ${ctor.name} of ${rows} rows`, { kind, field: name });
  }
  return value as T;
}

/**
 * Encode a message as one Arrow IPC stream.
 * @param msg any message; columns must have equal row counts and `hidden`
 *   `[rows, dModel]` float32 (or `hiddenF16` with `wireDtype: "f16"`)
 * @returns the frame: schema + one record batch + end-of-stream marker
 * @throws EncodeError when columns or header values are malformed
 */
export function encode(msg: Message): Uint8Array {
  const { header, columns, rows, shape } = prepare(msg);
  return writeIpcFrame(shape, header.keys, header.values, columns, rows);
}

/**
 * {@link encode} through the general flatbuffers builder on every message (no templates): the same bytes,
 * slower. For tests and benchmarks that check the fast writer against it.
 */
export function encodeReference(msg: Message): Uint8Array {
  const { header, columns, rows } = prepare(msg);
  const metadata = new Map<string, string>();
  header.keys.forEach((k, i) => metadata.set(k, header.values[i]!));
  return writeIpcStream(metadata, columns, rows);
}

/** A message's header, its columns as the writer takes them, its row count and its shape (kind, dtype, d_model). */
function prepare(msg: Message): { header: Header; columns: IpcColumn[]; rows: number; shape: string } {
  const spec = KINDS[msg.kind];
  if (spec === undefined) throw new EncodeError(`unknown message kind "${String(msg.kind)}"`, { field: "kind" });
  const header = headerOf(msg);
  const cols = msg as unknown as Columns;
  const first = spec.columns[0];
  const rows = first === undefined ? 0 : ((cols[first] as { length?: number } | undefined)?.length ?? 0);
  const out: IpcColumn[] = [];
  let shape: string = msg.kind;
  for (const name of spec.columns) {
    const type = COLUMN_TYPES[name];
    if (type === "u32") {
      out.push({ name, type, values: column(msg.kind, name, cols[name], rows, Uint32Array) });
      continue;
    }
    if (type === "f32") {
      out.push({ name, type, values: column(msg.kind, name, cols[name], rows, Float32Array) });
      continue;
    }
    if (type === "f64") {
      out.push({ name, type, values: column(msg.kind, name, cols[name], rows, Float64Array) });
      continue;
    }
    const { dModel, wireDtype = "f32" } = cols;
    if (typeof dModel !== "number" || !Number.isInteger(dModel) || dModel < 1 || dModel > HEADER_LIMITS.dModel) {
      throw new EncodeError(`${msg.kind}: dModel ${String(dModel)} is not a positive integer`, { kind: msg.kind, field: "dModel" });
    }
    if (wireDtype !== "f32" && wireDtype !== "f16") throw new EncodeError(`${msg.kind}: wireDtype ${wireDtype} is not f32 or f16`, { kind: msg.kind, field: "wireDtype" });
    let values: Float32Array | Uint16Array;
    if (wireDtype === "f16" && cols.hiddenF16 !== undefined) values = cols.hiddenF16;
    else {
      if (!(cols.hidden instanceof Float32Array)) throw new EncodeError(`${msg.kind}: hidden must be a Float32Array`, { kind: msg.kind, field: "hidden" });
      values = wireDtype === "f16" ? f32ArrayToF16(cols.hidden) : cols.hidden;
    }
    if (values.length !== rows * dModel) {
      throw new EncodeError(`${msg.kind}: hidden has ${values.length} values, expected rows × dModel = ${rows} × ${dModel}`, { kind: msg.kind, field: "hidden" });
    }
    out.push({ name, type: "list", listSize: dModel, half: wireDtype === "f16", values });
    header.keys.push("dtype", "d_model");
    header.values.push(wireDtype, String(dModel));
    shape = `${msg.kind}|${wireDtype}|${dModel}`;
  }
  return { header, columns: out, rows, shape };
}

function envelope(h: ParsedHeader): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: h.kind, id: h.id };
  for (const key of ["batch", "deadline", "sender", "origin", "layer", "expert", "code", "message", "host"] as const) {
    if (h[key] !== undefined) out[key] = h[key];
  }
  return out;
}

/**
 * Read the columns of a checked frame as views of the frame: the verifier
 * (ipc.ts) has bounded every buffer inside the body and 8-aligned it, and
 * checkBatch has checked every node and buffer size, so the views can be made
 * straight from the layout without a second parse by apache-arrow.
 */
function readColumns(frame: Uint8Array, layout: IpcLayout, h: ParsedHeader, out: Record<string, unknown>, finite: boolean): void {
  const rows = layout.rows;
  const base = frame.byteOffset + layout.bodyOffset;
  let buffer = 0;
  const data = <T extends Uint32Array | Float32Array | Float64Array | Uint16Array>(ctor: { new (b: ArrayBufferLike, offset: number, length: number): T }, length: number): T => {
    buffer++; // validity bitmap: no column may hold nulls (checked), so it is never read
    const b = layout.buffers[buffer++]!;
    return new ctor(frame.buffer, base + b.offset, length);
  };
  for (const name of h.spec.columns) {
    const type = COLUMN_TYPES[name];
    if (type === "u32") out[name] = data(Uint32Array, rows);
    else if (type === "f32") {
      const v = data(Float32Array, rows);
      const bad = finite ? firstNonFinite(v) : -1;
      if (bad >= 0) rejectNonFinite(h, name, bad, 1);
      out[name] = v;
    } else if (type === "f64") {
      const v = data(Float64Array, rows);
      const bad = finite ? firstNonFinite(v) : -1;
      if (bad >= 0) rejectNonFinite(h, name, bad, 1);
      out[name] = v;
    } else {
      const dModel = h.dModel!;
      buffer++; // the FixedSizeList's own validity bitmap
      if (h.dtype === "f16") {
        const bits = data(Uint16Array, rows * dModel);
        const bad = finite ? firstNonFiniteF16(bits) : -1;
        if (bad >= 0) rejectNonFinite(h, name, bad, dModel);
        out.hiddenF16 = bits;
        out.hidden = f16ArrayToF32(bits);
      } else {
        const v = data(Float32Array, rows * dModel);
        const bad = finite ? firstNonFinite(v) : -1;
        if (bad >= 0) rejectNonFinite(h, name, bad, dModel);
        out.hidden = v;
      }
      out.dModel = dModel;
      out.wireDtype = h.dtype;
    }
  }
}

/**
 * Decode and validate one frame.
 *
 * The frame length is checked against `maxMessageSize` before anything is
 * parsed; the framing is verified with bounded work; header, schema, sizes
 * and finiteness are checked against `expect`. Column arrays are views of the
 * frame's buffer (an f16 `hidden` is converted to float32 in one pass, its raw
 * bits stay available as `hiddenF16`). A frame whose byte offset is not
 * 8-aligned is copied once so that the views can be made.
 *
 * @param frame one received ZeroMQ frame
 * @param expect what this receiver accepts (d_model, kinds, dtypes, limits)
 * @throws InvalidMessageError (a subclass naming the reason); never anything else
 */
export function decode(frame: Uint8Array, expect: Expectation): Message {
  const e = compileExpectation(expect);
  try {
    return decodeChecked(frame, e);
  } catch (err) {
    if (err instanceof InvalidMessageError) throw err;
    throw new MalformedFrameError(`frame could not be decoded: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

function decodeChecked(frame: Uint8Array, e: CompiledExpectation): Message {
  if (frame.byteLength > e.maxMessageSize) {
    throw new FrameTooLargeError(`frame of ${frame.byteLength} bytes exceeds maxMessageSize ${e.maxMessageSize}`, { fix: "raise maxMessageSize or send fewer rows per message" });
  }
  const aligned = frame.byteOffset % 8 === 0 ? frame : frame.slice();
  const layout = verifyIpcStream(aligned);
  const header = parseHeader(layout.metadata, e);
  checkSchema(layout.fields, header);
  checkBatch(layout, header, e);
  const out = envelope(header);
  if (header.spec.columns.length > 0) readColumns(aligned, layout, header, out, e.requireFinite);
  return out as unknown as Message;
}
