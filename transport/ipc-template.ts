/**
 * The data plane's fast Arrow IPC writer: the same bytes as `ipc-writer.ts`
 * (a test compares them frame by frame), without running the flatbuffers
 * builder per message.
 *
 * Why it can: for a given column set, dtype and d_model, the two flatbuffer
 * messages of a frame differ from one frame to the next only in values at
 * fixed places. The schema message changes with the metadata values' bytes
 * (its layout depends on their lengths only: strings are neither shared nor
 * compared by the builder), the record batch message with its int64s (row
 * count, node lengths, buffer offsets and lengths, body length; its layout
 * is fixed once every one of them is non-zero, i.e. for rows > 0). So each
 * message is built once per shape by the builder, kept as a template with the
 * positions of its variable bytes, and later frames copy the template and
 * write the values in place.
 */
import { CONTINUATION } from "./ipc-format.js";
import { recordBatchMessage, schemaMessageWithValues, writeIpcStream, type IpcColumn } from "./ipc-writer.js";

/** A schema message and where its metadata values' bytes lie. */
interface SchemaTemplate {
  readonly bytes: Uint8Array;
  readonly valueAt: readonly number[];
}

/** A record batch message and where its int64 fields lie. */
interface BatchTemplate {
  readonly bytes: Uint8Array;
  /** Message.bodyLength. */
  readonly bodyLengthAt: number;
  /** RecordBatch.length (rows). */
  readonly rowsAt: number;
  /** First FieldNode struct (length, null_count; 16 bytes each). */
  readonly nodesAt: number;
  /** First Buffer struct (offset, length; 16 bytes each). */
  readonly buffersAt: number;
}

/** Most templates kept per kind of message (shapes recur: a handful per process). */
const MAX_TEMPLATES = 512;
const schemas = new Map<string, SchemaTemplate>();
const batches = new Map<string, BatchTemplate>();

const pad8 = (n: number): number => (n + 7) & ~7;

/**
 * Encode `columns` (all of `rows` rows) with the header `keys[i] = values[i]` as schema metadata: the bytes
 * `writeIpcStream` writes for the same input.
 * @param shape names the column set, its types and list sizes (e.g. kind, dtype and d_model): frames of one
 *   shape must have the same columns
 */
export function writeIpcFrame(shape: string, keys: readonly string[], values: readonly string[], columns: readonly IpcColumn[], rows: number): Uint8Array {
  // 0 rows leaves int64 fields at their defaults, which the builder omits: a different layout (rare; no template)
  if (rows === 0) return writeIpcStream(metadataMap(keys, values), columns, rows);
  let schemaKey = shape;
  for (let i = 0; i < keys.length; i++) {
    const v = values[i]!;
    if (!isAscii(v)) return writeIpcStream(metadataMap(keys, values), columns, rows);
    schemaKey += `\u0000${keys[i]}\u0001${v.length}`;
  }
  let schema = schemas.get(schemaKey);
  if (schema === undefined) {
    schema = schemaMessageWithValues(metadataMap(keys, values), columns);
    remember(schemas, schemaKey, schema);
  }
  // body: per column its (empty) validity bitmap and its values, each 8-aligned
  let body = 0;
  for (const c of columns) body += pad8(c.values.byteLength);
  let batch = batches.get(shape);
  if (batch === undefined) {
    batch = batchTemplate(columns, rows);
    remember(batches, shape, batch);
  }
  const s = schema.bytes;
  const b = batch.bytes;
  const total = 8 + s.length + 8 + b.length + body + 8;
  const frame = new Uint8Array(total);
  const dv = new DataView(frame.buffer);
  dv.setUint32(0, CONTINUATION, true);
  dv.setInt32(4, s.length, true);
  frame.set(s, 8);
  for (let i = 0; i < values.length; i++) writeAscii(frame, 8 + schema.valueAt[i]!, values[i]!);
  const at = 8 + s.length;
  dv.setUint32(at, CONTINUATION, true);
  dv.setInt32(at + 4, b.length, true);
  frame.set(b, at + 8);
  const m = at + 8;
  setU64(dv, m + batch.bodyLengthAt, body);
  setU64(dv, m + batch.rowsAt, rows);
  let node = m + batch.nodesAt;
  let buffer = m + batch.buffersAt;
  let offset = 0;
  const bodyAt = m + b.length;
  for (const c of columns) {
    setU64(dv, node, rows); // null_count stays 0 (template)
    node += 16;
    if (c.type === "list") {
      setU64(dv, node, rows * c.listSize);
      node += 16;
      setU64(dv, buffer, offset); // the list's validity bitmap, empty
      buffer += 16;
    }
    setU64(dv, buffer, offset); // validity bitmap, empty
    setU64(dv, buffer + 16, offset);
    setU64(dv, buffer + 24, c.values.byteLength);
    buffer += 32;
    const v = c.values;
    frame.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), bodyAt + offset);
    offset += pad8(v.byteLength);
  }
  const end = bodyAt + body;
  dv.setUint32(end, CONTINUATION, true);
  dv.setInt32(end + 4, 0, true);
  return frame;
}

function metadataMap(keys: readonly string[], values: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < keys.length; i++) m.set(keys[i]!, values[i]!);
  return m;
}

function remember<T>(cache: Map<string, T>, key: string, value: T): void {
  if (cache.size >= MAX_TEMPLATES) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function writeAscii(frame: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) frame[at + i] = s.charCodeAt(i);
}

/** Write a non-negative safe integer as a little-endian int64. */
function setU64(dv: DataView, at: number, v: number): void {
  dv.setUint32(at, v >>> 0, true);
  dv.setUint32(at + 4, Math.floor(v / 0x100000000), true);
}

/** Build the record batch message of `columns` with the builder once and find its int64 fields. */
function batchTemplate(columns: readonly IpcColumn[], rows: number): BatchTemplate {
  const nodes: { length: number }[] = [];
  const buffers: { offset: number; length: number }[] = [];
  let body = 0;
  for (const c of columns) {
    nodes.push({ length: rows });
    if (c.type === "list") {
      nodes.push({ length: rows * c.listSize });
      buffers.push({ offset: body, length: 0 });
    }
    buffers.push({ offset: body, length: 0 }, { offset: body, length: c.values.byteLength });
    body += pad8(c.values.byteLength);
  }
  const bytes = recordBatchMessage(rows, nodes, buffers, body);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const message = dv.getUint32(0, true);
  const header = target(dv, message, 2);
  return {
    bytes,
    bodyLengthAt: field(dv, message, 3),
    rowsAt: field(dv, header, 0),
    nodesAt: target(dv, header, 1) + 4,
    buffersAt: target(dv, header, 2) + 4,
  };
}

/** Position of field `index` of the table at `table` (present: every field written is non-default). */
function field(dv: DataView, table: number, index: number): number {
  const vtable = table - dv.getInt32(table, true);
  const at = dv.getUint16(vtable + 4 + 2 * index, true);
  if (at === 0) throw new Error(`ipc-template: field ${index} is absent from its template`);
  return table + at;
}

/** Where the offset stored in field `index` of the table at `table` points. */
function target(dv: DataView, table: number, index: number): number {
  const p = field(dv, table, index);
  return p + dv.getUint32(p, true);
}
