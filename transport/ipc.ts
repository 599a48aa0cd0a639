/**
 * A bounded verifier of the Arrow IPC stream framing, run before Arrow sees a
 * frame.
 *
 * Why: Arrow's JavaScript reader trusts the flatbuffer metadata. A corrupt
 * vector length (e.g. 2^31 fields) makes it loop for minutes, a cyclic child
 * offset recurses until the stack overflows, and a huge body length is only
 * noticed after reading. This file walks the same structures with every
 * offset, length and count checked against the frame and against small caps,
 * so that the work per frame is bounded by the frame's size, and it returns
 * the layout (fields, header metadata, row count, nodes, buffers, body) that
 * `validate.ts` compares with what the kind expects.
 *
 * Accepted shape: `[0xFFFFFFFF][int32 metadata length][Message(Schema)]`
 * `[0xFFFFFFFF][len][Message(RecordBatch)][body]` and an optional end-of-stream
 * marker `[0xFFFFFFFF][0]`, nothing else. Metadata version V5, little endian,
 * no dictionaries, no compression, column types Int / FloatingPoint /
 * FixedSizeList only.
 */
import { SchemaMismatchError } from "./errors.js";
import { Flatbuffer, malformed, type Table } from "./flatbuffer.js";
import { knownSchema, rememberSchema } from "./ipc-schemas.js";
import { MESSAGE_HEADER_RECORD_BATCH, MESSAGE_HEADER_SCHEMA, METADATA_V5, PRECISIONS, TYPE_FIXED_SIZE_LIST, TYPE_FLOAT, TYPE_INT } from "./ipc-format.js";

/** Arrow type of a verified field. */
export type IpcType =
  | { readonly id: "int"; readonly bitWidth: number; readonly signed: boolean }
  | { readonly id: "float"; readonly precision: "half" | "single" | "double" }
  | { readonly id: "fixedSizeList"; readonly listSize: number };

/** One field of a verified schema. */
export interface IpcField {
  readonly name: string;
  readonly nullable: boolean;
  readonly type: IpcType;
  readonly children: readonly IpcField[];
}

/** A field node of the record batch: value count and null count. */
export interface IpcNode {
  readonly length: number;
  readonly nullCount: number;
}

/** A buffer of the record batch, relative to the body start (bytes). */
export interface IpcBuffer {
  readonly offset: number;
  readonly length: number;
}

/** What the verifier found in a well-formed frame. */
export interface IpcLayout {
  readonly fields: readonly IpcField[];
  /** Schema custom metadata, in order (duplicates kept; the caller decides). */
  readonly metadata: readonly (readonly [string, string])[];
  /** Record batch length (rows). */
  readonly rows: number;
  readonly nodes: readonly IpcNode[];
  readonly buffers: readonly IpcBuffer[];
  /** Body start within the frame, bytes. */
  readonly bodyOffset: number;
  /** Body length, bytes. */
  readonly bodyLength: number;
}

/** Caps on counts, so the work per frame stays small. */
const LIMITS = { fields: 16, children: 1, depth: 2, metadata: 32, nodes: 32, buffers: 64, name: 64, value: 8192 };

/**
 * Key/value pairs of a `custom_metadata` vector; with `spans`, where each value's bytes lie in the metadata
 * (`[start, length]`; an absent value as `[-1, 0]`).
 */
function keyValues(fb: Flatbuffer, t: Table, index: number, what: string, spans?: [number, number][]): [string, string][] {
  return fb.tables(t, index, LIMITS.metadata, what).map((kv) => {
    const key = fb.string(kv, 0, LIMITS.name, `${what} key`);
    const value = fb.string(kv, 1, LIMITS.value, `${what} value`);
    if (key === null) malformed(`${what} entry without a key`);
    spans?.push(value === null ? [-1, 0] : [fb.lastString.start, fb.lastString.length]);
    return [key, value ?? ""];
  });
}

function fieldType(fb: Flatbuffer, f: Table, name: string): IpcType {
  const typeId = fb.scalarU8(f, 2, 0, `field ${name} type id`);
  if (typeId !== TYPE_INT && typeId !== TYPE_FLOAT && typeId !== TYPE_FIXED_SIZE_LIST) {
    throw new SchemaMismatchError(`column "${name}" has Arrow type id ${typeId}; only Int, FloatingPoint and FixedSizeList are used`, { field: name });
  }
  const t = fb.subTable(f, 3, `field ${name} type`);
  if (t === null) malformed(`field ${name} has no type table`);
  if (typeId === TYPE_INT) {
    return { id: "int", bitWidth: fb.scalarI32(t, 0, 0, "Int.bitWidth"), signed: fb.scalarU8(t, 1, 0, "Int.is_signed") !== 0 };
  }
  if (typeId === TYPE_FLOAT) {
    const p = fb.scalarI16(t, 0, 0, "FloatingPoint.precision");
    const precision = PRECISIONS[p];
    if (precision === undefined) malformed(`field ${name} has float precision ${p}`);
    return { id: "float", precision };
  }
  return { id: "fixedSizeList", listSize: fb.scalarI32(t, 0, 0, "FixedSizeList.listSize") };
}

function field(fb: Flatbuffer, f: Table, depth: number): IpcField {
  const name = fb.string(f, 0, LIMITS.name, "field name") ?? "";
  if (fb.field(f, 4, 4, "field dictionary") >= 0) {
    throw new SchemaMismatchError(`column "${name}" is dictionary-encoded; no column of the protocol is`, { field: name });
  }
  if (keyValues(fb, f, 6, `field ${name} metadata`).length > 0) malformed(`field ${name} carries custom metadata`);
  const childTables = fb.tables(f, 5, LIMITS.children, `field ${name} children`);
  if (childTables.length > 0 && depth >= LIMITS.depth) malformed(`field ${name} is nested deeper than ${LIMITS.depth}`);
  return {
    name,
    nullable: fb.scalarU8(f, 1, 0, "field nullable") !== 0,
    type: fieldType(fb, f, name),
    children: childTables.map((c) => field(fb, c, depth + 1)),
  };
}

interface RawMessage {
  headerType: number;
  header: Table;
  fb: Flatbuffer;
  bodyOffset: number;
  bodyLength: number;
  end: number;
}

/** Read the encapsulated message at `pos` (continuation, length, metadata, body). */
function message(frame: Uint8Array, view: DataView, pos: number, which: string): RawMessage {
  if (pos + 8 > frame.byteLength) malformed(`frame ends before the ${which} message (${frame.byteLength} bytes)`);
  if (view.getUint32(pos, true) !== 0xffffffff) malformed(`no continuation marker 0xFFFFFFFF before the ${which} message`);
  const metaLength = view.getInt32(pos + 4, true);
  const left = frame.byteLength - pos - 8;
  if (metaLength <= 0) malformed(`${which} message has metadata length ${metaLength}`);
  if (metaLength % 8 !== 0) malformed(`${which} metadata length ${metaLength} is not a multiple of 8`);
  if (metaLength > left) malformed(`${which} metadata length ${metaLength} exceeds the ${left} bytes left in the frame`);
  const metaStart = pos + 8;
  const fb = new Flatbuffer(frame.subarray(metaStart, metaStart + metaLength));
  const root = fb.root(`${which} Message`);
  const version = fb.scalarI16(root, 0, 0, "Message.version");
  if (version !== METADATA_V5) malformed(`${which} message has metadata version ${version}, expected V5 (${METADATA_V5})`);
  const headerType = fb.scalarU8(root, 1, 0, "Message.header_type");
  const header = fb.subTable(root, 2, `${which} Message.header`);
  if (header === null) malformed(`${which} message has no header`);
  const bodyLength = fb.scalarU53(root, 3, "Message.bodyLength");
  if (keyValues(fb, root, 4, "Message.custom_metadata").length > 0) malformed(`${which} message carries message-level metadata`);
  const bodyOffset = metaStart + metaLength;
  const bodyLeft = frame.byteLength - bodyOffset;
  if (bodyLength > bodyLeft) malformed(`${which} body length ${bodyLength} exceeds the ${bodyLeft} bytes left in the frame`);
  if (bodyLength % 8 !== 0) malformed(`${which} body length ${bodyLength} is not a multiple of 8`);
  return { headerType, header, fb, bodyOffset, bodyLength, end: bodyOffset + bodyLength };
}

function schema(m: RawMessage): { fields: IpcField[]; metadata: [string, string][]; spans: [number, number][] } {
  const { fb, header } = m;
  if (m.headerType !== MESSAGE_HEADER_SCHEMA) malformed(`first message has header type ${m.headerType}, expected Schema`);
  if (m.bodyLength !== 0) malformed(`schema message has a ${m.bodyLength}-byte body`);
  const endianness = fb.scalarI16(header, 0, 0, "Schema.endianness");
  if (endianness !== 0) malformed("schema is big-endian; the protocol is little-endian");
  fb.vector(header, 3, 8, 16, "Schema.features");
  const fields = fb.tables(header, 1, LIMITS.fields, "Schema.fields").map((f) => field(fb, f, 1));
  const spans: [number, number][] = [];
  return { fields, metadata: keyValues(fb, header, 2, "Schema.custom_metadata", spans), spans };
}

function recordBatch(m: RawMessage): { rows: number; nodes: IpcNode[]; buffers: IpcBuffer[] } {
  const { fb, header } = m;
  if (m.headerType !== MESSAGE_HEADER_RECORD_BATCH) malformed(`second message has header type ${m.headerType}, expected RecordBatch`);
  const rows = fb.scalarU53(header, 0, "RecordBatch.length");
  const nodeVec = fb.vector(header, 1, 16, LIMITS.nodes, "RecordBatch.nodes");
  const bufferVec = fb.vector(header, 2, 16, LIMITS.buffers, "RecordBatch.buffers");
  if (fb.field(header, 3, 4, "RecordBatch.compression") >= 0) malformed("record batch is compressed; the protocol sends raw buffers");
  const variadic = fb.vector(header, 4, 8, 0, "RecordBatch.variadicBufferCounts");
  void variadic;
  const nodes: IpcNode[] = [];
  for (let i = 0; nodeVec !== null && i < nodeVec.length; i++) {
    const p = nodeVec.start + 16 * i;
    nodes.push({ length: fb.u53(p, "FieldNode.length"), nullCount: fb.u53(p + 8, "FieldNode.null_count") });
  }
  const buffers: IpcBuffer[] = [];
  for (let i = 0; bufferVec !== null && i < bufferVec.length; i++) {
    const p = bufferVec.start + 16 * i;
    const offset = fb.u53(p, "Buffer.offset");
    const length = fb.u53(p + 8, "Buffer.length");
    if (offset % 8 !== 0) malformed(`buffer ${i} offset ${offset} is not 8-byte aligned`);
    if (offset + length > m.bodyLength) malformed(`buffer ${i} [${offset}, ${offset + length}) overruns the ${m.bodyLength}-byte body`);
    buffers.push({ offset, length });
  }
  return { rows, nodes, buffers };
}

/**
 * Check the framing and metadata of one frame and return its layout.
 * Work and allocation are bounded by the frame length and the caps above.
 * @throws MalformedFrameError when the frame is not one well-formed stream;
 *   SchemaMismatchError when a column has a type no kind uses.
 */
export function verifyIpcStream(frame: Uint8Array): IpcLayout {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let known = knownSchema(frame, view);
  if (known === undefined) {
    const first = message(frame, view, 0, "schema");
    const s = schema(first);
    known = { fields: s.fields, metadata: s.metadata, end: first.end };
    rememberSchema(frame, first.end - 8, s.fields, s.metadata, s.spans);
  }
  const { fields, metadata } = known;
  const second = message(frame, view, known.end, "record batch");
  const { rows, nodes, buffers } = recordBatch(second);
  const rest = frame.byteLength - second.end;
  if (rest !== 0) {
    const eos = rest === 8 && view.getUint32(second.end, true) === 0xffffffff && view.getUint32(second.end + 4, true) === 0;
    if (!eos) malformed(`${rest} bytes after the record batch are not an end-of-stream marker`);
  }
  return { fields, metadata, rows, nodes, buffers, bodyOffset: second.bodyOffset, bodyLength: second.bodyLength };
}
