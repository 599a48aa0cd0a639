/**
 * Writes one Arrow IPC stream (schema message + one record batch message +
 * end-of-stream marker) straight into one preallocated frame, for the few
 * column shapes of the protocol: non-nullable uint32 / float32 / float64 columns and a
 * non-nullable FixedSizeList<float32|float16>. The flatbuffers follow the
 * Arrow format (Schema.fbs / Message.fbs, metadata version V5); a test reads
 * every frame back with apache-arrow's own reader.
 */
import { Builder } from "flatbuffers";
import { CONTINUATION, MESSAGE_HEADER_RECORD_BATCH, MESSAGE_HEADER_SCHEMA, METADATA_V5, PRECISIONS, TYPE_FIXED_SIZE_LIST, TYPE_FLOAT, TYPE_INT } from "./ipc-format.js";

/** One column to write: its Arrow type and its values (already of the right length). */
export type IpcColumn =
  | { readonly name: string; readonly type: "u32"; readonly values: Uint32Array }
  | { readonly name: string; readonly type: "f32"; readonly values: Float32Array }
  | { readonly name: string; readonly type: "f64"; readonly values: Float64Array }
  | { readonly name: string; readonly type: "list"; readonly listSize: number; readonly half: boolean; readonly values: Float32Array | Uint16Array };

const PRECISION_HALF = PRECISIONS.indexOf("half");
const PRECISION_SINGLE = PRECISIONS.indexOf("single");
const PRECISION_DOUBLE = PRECISIONS.indexOf("double");

const pad8 = (n: number) => (n + 7) & ~7;

/**
 * Builders reused across frames (cleared before each use; the finished bytes are copied out), so that a
 * frame allocates no flatbuffer scratch space: encoding runs on every message of the data plane.
 */
const schemaBuilder = new Builder(1024);
const batchBuilder = new Builder(256);

/** UTF-8 bytes of strings that recur in every frame (metadata keys, kinds, names, column names), by string. */
const utf8Cache = new Map<string, Uint8Array>();
const UTF8_CACHE_MAX = 4096;
const encoder = new TextEncoder();

/** UTF-8 bytes of `s`, cached for `recurring` strings (bounded; values such as ids and deadlines are not cached). */
function utf8(s: string, recurring: boolean): Uint8Array {
  const hit = utf8Cache.get(s);
  if (hit !== undefined) return hit;
  const bytes = encoder.encode(s);
  if (recurring && utf8Cache.size < UTF8_CACHE_MAX) utf8Cache.set(s, bytes);
  return bytes;
}

/** Metadata keys whose values recur from frame to frame (worth caching their bytes). */
const RECURRING_VALUES = new Set(["kind", "v", "sender", "origin", "dtype", "d_model", "host", "layer"]);

/**
 * Encode `columns` (all of `rows` rows) with `metadata` as the schema's custom metadata.
 * @returns the frame bytes
 */
export function writeIpcStream(metadata: ReadonlyMap<string, string>, columns: readonly IpcColumn[], rows: number): Uint8Array {
  const schema = schemaMessage(metadata, columns);
  // body: for each column its validity (empty) and values, each 8-aligned
  const buffers: { offset: number; length: number }[] = [];
  const nodes: { length: number }[] = [];
  let body = 0;
  const values: { at: number; bytes: Uint8Array }[] = [];
  const addValues = (v: ArrayBufferView) => {
    buffers.push({ offset: body, length: 0 }); // validity bitmap omitted: no nulls
    buffers.push({ offset: body, length: v.byteLength });
    values.push({ at: body, bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
    body += pad8(v.byteLength);
  };
  for (const c of columns) {
    if (c.type === "list") {
      nodes.push({ length: rows });
      buffers.push({ offset: body, length: 0 }); // the list's own validity bitmap
      nodes.push({ length: rows * c.listSize });
    } else nodes.push({ length: rows });
    addValues(c.values);
  }
  const batch = recordBatchMessage(rows, nodes, buffers, body);
  const total = 8 + schema.length + 8 + batch.length + body + 8;
  const frame = new Uint8Array(total);
  const dv = new DataView(frame.buffer);
  let at = 0;
  for (const m of [schema, batch]) {
    dv.setUint32(at, CONTINUATION, true);
    dv.setInt32(at + 4, m.length, true);
    frame.set(m, at + 8);
    at += 8 + m.length;
  }
  for (const v of values) frame.set(v.bytes, at + v.at);
  at += body;
  dv.setUint32(at, CONTINUATION, true);
  dv.setInt32(at + 4, 0, true);
  return frame;
}

/** Finished flatbuffer bytes of a Message, padded so that 8 + length is a multiple of 8. */
function finishMessage(b: Builder, headerType: number, header: number, bodyLength: number): Uint8Array {
  b.startObject(5);
  b.addFieldInt64(3, BigInt(bodyLength), BigInt(0));
  b.addFieldOffset(2, header, 0);
  b.addFieldInt16(0, METADATA_V5, 0);
  b.addFieldInt8(1, headerType, 0);
  const msg = b.endObject();
  b.finish(msg);
  const bytes = b.asUint8Array();
  const padded = new Uint8Array(pad8(bytes.length));
  padded.set(bytes);
  return padded;
}

function schemaMessage(metadata: ReadonlyMap<string, string>, columns: readonly IpcColumn[]): Uint8Array {
  return schemaMessageWithValues(metadata, columns).bytes;
}

/**
 * The schema message of `metadata` and `columns`, and where each metadata value's UTF-8 bytes lie in it
 * (in `metadata` order; `ipc-template.ts` overwrites them to reuse the message for other values of the same lengths).
 */
export function schemaMessageWithValues(metadata: ReadonlyMap<string, string>, columns: readonly IpcColumn[]): { bytes: Uint8Array; valueAt: number[] } {
  const b = schemaBuilder;
  b.clear();
  const fields = columns.map((c) => field(b, c));
  const fieldsVec = vectorOfOffsets(b, fields);
  const valueOffsets: number[] = [];
  const kvs = [...metadata].map(([k, v]) => {
    const key = b.createString(utf8(k, true));
    const value = b.createString(utf8(v, RECURRING_VALUES.has(k)));
    valueOffsets.push(value);
    b.startObject(2);
    b.addFieldOffset(0, key, 0);
    b.addFieldOffset(1, value, 0);
    return b.endObject();
  });
  const metaVec = vectorOfOffsets(b, kvs);
  b.startObject(4);
  b.addFieldOffset(1, fieldsVec, 0);
  b.addFieldOffset(2, metaVec, 0);
  b.addFieldInt16(0, 0, 0); // little endian
  const schema = b.endObject();
  const bytes = finishMessage(b, MESSAGE_HEADER_SCHEMA, schema, 0);
  // a builder offset counts from the end of the finished (unpadded) bytes; a string's bytes follow its length
  const end = b.offset();
  return { bytes, valueAt: valueOffsets.map((o) => end - o + 4) };
}

function field(b: Builder, c: IpcColumn): number {
  let children = 0;
  let typeType: number;
  let type: number;
  if (c.type === "list") {
    const item = leaf(b, "item", c.half ? PRECISION_HALF : PRECISION_SINGLE);
    children = vectorOfOffsets(b, [item]);
    b.startObject(1);
    b.addFieldInt32(0, c.listSize, 0);
    type = b.endObject();
    typeType = TYPE_FIXED_SIZE_LIST;
  } else if (c.type === "u32") {
    b.startObject(2);
    b.addFieldInt32(0, 32, 0);
    b.addFieldInt8(1, 0, 0); // unsigned
    type = b.endObject();
    typeType = TYPE_INT;
  } else {
    type = floatType(b, c.type === "f64" ? PRECISION_DOUBLE : PRECISION_SINGLE);
    typeType = TYPE_FLOAT;
  }
  const name = b.createString(utf8(c.name, true));
  if (children === 0) children = vectorOfOffsets(b, []);
  return fieldTable(b, name, typeType, type, children);
}

/** A child field of a float type (the list's `item`). */
function leaf(b: Builder, name: string, precision: number): number {
  const type = floatType(b, precision);
  const n = b.createString(utf8(name, true));
  return fieldTable(b, n, TYPE_FLOAT, type, vectorOfOffsets(b, []));
}

function floatType(b: Builder, precision: number): number {
  b.startObject(1);
  b.addFieldInt16(0, precision, 0);
  return b.endObject();
}

function fieldTable(b: Builder, name: number, typeType: number, type: number, children: number): number {
  b.startObject(7);
  b.addFieldOffset(0, name, 0);
  b.addFieldOffset(3, type, 0);
  b.addFieldOffset(5, children, 0);
  b.addFieldInt8(2, typeType, 0);
  b.addFieldInt8(1, 0, 0); // not nullable
  return b.endObject();
}

function vectorOfOffsets(b: Builder, offsets: readonly number[]): number {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]!);
  return b.endVector();
}

/** The record batch message of `rows` rows with these field nodes and body buffers (offsets and lengths in bytes). */
export function recordBatchMessage(rows: number, nodes: readonly { length: number }[], buffers: readonly { offset: number; length: number }[], bodyLength: number): Uint8Array {
  const b = batchBuilder;
  b.clear();
  // vectors of structs are written back to front; a struct's fields back to front too
  b.startVector(16, buffers.length, 8);
  for (let i = buffers.length - 1; i >= 0; i--) {
    b.prep(8, 16);
    b.writeInt64(BigInt(buffers[i]!.length));
    b.writeInt64(BigInt(buffers[i]!.offset));
  }
  const buffersVec = b.endVector();
  b.startVector(16, nodes.length, 8);
  for (let i = nodes.length - 1; i >= 0; i--) {
    b.prep(8, 16);
    b.writeInt64(BigInt(0)); // null_count
    b.writeInt64(BigInt(nodes[i]!.length));
  }
  const nodesVec = b.endVector();
  b.startObject(5);
  b.addFieldInt64(0, BigInt(rows), BigInt(0));
  b.addFieldOffset(1, nodesVec, 0);
  b.addFieldOffset(2, buffersVec, 0);
  const batch = b.endObject();
  return finishMessage(b, MESSAGE_HEADER_RECORD_BATCH, batch, bodyLength);
}
