/**
 * Checks every received message against what the receiver expects: header
 * fields typed and known, kind known and accepted, version supported, schema
 * exactly the kind's (names, types, nullability, list size = d_model), row
 * counts and buffer sizes consistent, floats finite where required. Each
 * failure is a typed `InvalidMessageError` naming the kind and field.
 */
import {
  BadHeaderError,
  NonFiniteError,
  SchemaMismatchError,
  SizeMismatchError,
  TransportConfigError,
  UnknownKindError,
  UnsupportedVersionError,
} from "./errors.js";
import type { IpcField, IpcLayout } from "./ipc.js";
import {
  ALL_KINDS,
  COLUMN_TYPES,
  HEADER_KEYS,
  HEADER_LIMITS,
  KINDS,
  type ColumnName,
  type ColumnType,
  type KindSpec,
} from "./kinds.js";
import { PROTOCOL_VERSION, WIRE_DTYPES, type Kind, type WireDtype } from "./messages.js";

/** What a receiver expects of the messages it accepts. */
export interface Expectation {
  /**
   * Width of every `hidden` column this receiver accepts: the model's d_model
   * (a receiver of `stage.logits` passes the vocabulary size instead).
   */
  dModel: number;
  /** Kinds accepted; every kind when absent. */
  kinds?: readonly Kind[];
  /** Wire dtypes accepted for `hidden`; both when absent. */
  dtypes?: readonly WireDtype[];
  /** Largest frame accepted, bytes, checked before any parsing. Default {@link DEFAULT_MAX_MESSAGE_SIZE}. */
  maxMessageSize?: number;
  /** Most rows accepted in one message. Default: no cap beyond the frame size. */
  maxRows?: number;
  /** Reject NaN and ±Infinity in `hidden` and `logprob`. Default true. */
  requireFinite?: boolean;
}

/** An {@link Expectation} with its defaults applied, checked once. */
export interface CompiledExpectation {
  readonly dModel: number;
  readonly kinds: ReadonlySet<Kind>;
  readonly dtypes: ReadonlySet<WireDtype>;
  readonly maxMessageSize: number;
  readonly maxRows: number;
  readonly requireFinite: boolean;
}

/** Default frame cap: 64 MiB (a Grok-1 `router.request` of 2048 rows × 6144 f32 is 48 MiB). */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

const compiled = new WeakMap<Expectation, CompiledExpectation>();

/**
 * Apply defaults to an expectation and check it (cached per object).
 * @throws TransportConfigError on a bad d_model, size or kind list
 */
export function compileExpectation(e: Expectation): CompiledExpectation {
  const hit = compiled.get(e);
  if (hit !== undefined) return hit;
  const fix = "pass the model's d_model and positive limits";
  if (!Number.isInteger(e.dModel) || e.dModel < 1 || e.dModel > HEADER_LIMITS.dModel) {
    throw new TransportConfigError(`expectation dModel ${e.dModel} is not an integer in [1, ${HEADER_LIMITS.dModel}]`, { field: "dModel", fix });
  }
  const maxMessageSize = e.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (!Number.isInteger(maxMessageSize) || maxMessageSize < 64) {
    throw new TransportConfigError(`maxMessageSize ${maxMessageSize} must be an integer ≥ 64 bytes`, { field: "maxMessageSize", fix });
  }
  const maxRows = e.maxRows ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isInteger(maxRows) || maxRows < 0) throw new TransportConfigError(`maxRows ${maxRows} must be a non-negative integer`, { field: "maxRows", fix });
  for (const k of e.kinds ?? []) {
    if (!(k in KINDS)) throw new TransportConfigError(`unknown kind "${k}" in expectation`, { field: "kinds", fix: `use one of ${ALL_KINDS.join(", ")}` });
  }
  const out: CompiledExpectation = Object.freeze({
    dModel: e.dModel,
    kinds: new Set(e.kinds ?? ALL_KINDS),
    dtypes: new Set(e.dtypes ?? WIRE_DTYPES),
    maxMessageSize,
    maxRows,
    requireFinite: e.requireFinite ?? true,
  });
  compiled.set(e, out);
  return out;
}

/** The header of a message, typed. Absent optional fields are undefined. */
export interface ParsedHeader {
  kind: Kind;
  spec: KindSpec;
  id: number;
  batch?: number;
  deadline?: number;
  sender?: string;
  origin?: string;
  layer?: number;
  expert?: number;
  dtype?: WireDtype;
  dModel?: number;
  code?: string;
  message?: string;
  host?: string;
}

const UINT = /^(0|[1-9][0-9]{0,15})$/;
const PRINTABLE = /^[\x20-\x7e]*$/;
const CODE = /^[A-Za-z0-9_.:-]{1,64}$/;
const KNOWN_KEYS: ReadonlySet<string> = new Set(HEADER_KEYS);

function uint(kind: string, key: string, value: string, max: number): number {
  const n = UINT.test(value) ? Number(value) : NaN;
  if (!(n <= max)) throw new BadHeaderError(`header ${key}="${value.slice(0, 32)}" is not an integer in [0, ${max}]`, { kind, field: key });
  return n;
}

function text(kind: string, key: string, value: string, max: number, pattern: RegExp = PRINTABLE): string {
  if (value.length > max || !pattern.test(value)) throw new BadHeaderError(`header ${key} is longer than ${max} characters or holds characters it may not`, { kind, field: key });
  return value;
}

function allowedKeys(spec: KindSpec): Set<string> {
  const keys = new Set<string>(["kind", "v", "id", "batch", "deadline", "sender", "origin", ...spec.required, ...spec.optional]);
  if (spec.columns.includes("hidden")) {
    keys.add("dtype");
    keys.add("d_model");
  }
  return keys;
}

const ALLOWED = new Map<Kind, Set<string>>(ALL_KINDS.map((k) => [k, allowedKeys(KINDS[k])]));

/**
 * Parse and check the header (schema custom metadata) of a frame.
 * @throws UnknownKindError, UnsupportedVersionError, BadHeaderError, SizeMismatchError
 */
export function parseHeader(metadata: IpcLayout["metadata"], expect: CompiledExpectation): ParsedHeader {
  const h = new Map<string, string>();
  for (const [key, value] of metadata) {
    if (!KNOWN_KEYS.has(key)) throw new BadHeaderError(`unknown header key "${key.slice(0, 32)}"`, { field: "header" });
    if (h.has(key)) throw new BadHeaderError(`header key "${key}" appears twice`, { field: key });
    h.set(key, value);
  }
  const rawKind = h.get("kind");
  if (rawKind === undefined) throw new BadHeaderError("header has no kind", { field: "kind" });
  if (!(rawKind in KINDS)) throw new UnknownKindError(`unknown message kind "${rawKind.slice(0, 32)}"`, { field: "kind" });
  const kind = rawKind as Kind;
  if (!expect.kinds.has(kind)) throw new UnknownKindError(`message kind "${kind}" is not accepted here`, { kind, field: "kind" });
  const v = h.get("v");
  if (v !== String(PROTOCOL_VERSION))
    throw new UnsupportedVersionError(`protocol version "${(v ?? "").slice(0, 16)}" is not supported: this process speaks v${PROTOCOL_VERSION}`, {
      kind,
      field: "v",
      fix: `a process of another moe-serve version sent it: run the same version on every host (v1 = moe-serve before typed sampling columns) and restart the cluster`,
    });
  const spec = KINDS[kind];
  const allowed = ALLOWED.get(kind)!;
  for (const key of h.keys()) if (!allowed.has(key)) throw new BadHeaderError(`header key "${key}" is not part of a ${kind} message`, { kind, field: key });
  const idText = h.get("id");
  if (idText === undefined) throw new BadHeaderError("header has no id", { kind, field: "id" });
  const out: ParsedHeader = { kind, spec, id: uint(kind, "id", idText, Number.MAX_SAFE_INTEGER) };
  const get = (key: string): string | undefined => h.get(key);
  let s: string | undefined;
  if ((s = get("batch")) !== undefined) out.batch = uint(kind, "batch", s, 0xffffffff);
  if ((s = get("deadline")) !== undefined) out.deadline = uint(kind, "deadline", s, Number.MAX_SAFE_INTEGER);
  if ((s = get("sender")) !== undefined) out.sender = text(kind, "sender", s, HEADER_LIMITS.name);
  if ((s = get("origin")) !== undefined) out.origin = text(kind, "origin", s, HEADER_LIMITS.name);
  if ((s = get("layer")) !== undefined) out.layer = uint(kind, "layer", s, 0xffffffff);
  if ((s = get("expert")) !== undefined) out.expert = uint(kind, "expert", s, 0xffffffff);
  for (const key of spec.required) if (out[key] === undefined) throw new BadHeaderError(`a ${kind} message needs header ${key}`, { kind, field: key });
  if (kind === "error") {
    out.code = text(kind, "code", get("code") ?? "", HEADER_LIMITS.code, CODE);
    out.message = text(kind, "message", get("message") ?? "", HEADER_LIMITS.message, /^[^\0]*$/);
    if ((s = get("host")) !== undefined) out.host = text(kind, "host", s, HEADER_LIMITS.name);
  }
  if (spec.columns.includes("hidden")) {
    const dtype = get("dtype");
    if (dtype !== "f32" && dtype !== "f16") throw new BadHeaderError(`header dtype "${(dtype ?? "").slice(0, 8)}" is not f32 or f16`, { kind, field: "dtype" });
    if (!expect.dtypes.has(dtype)) throw new BadHeaderError(`wire dtype ${dtype} is not accepted here`, { kind, field: "dtype" });
    out.dtype = dtype;
    const dModel = uint(kind, "d_model", get("d_model") ?? "", HEADER_LIMITS.dModel);
    if (dModel !== expect.dModel) {
      throw new SizeMismatchError(`d_model ${dModel} in the header differs from the model's ${expect.dModel}`, { kind, field: "d_model", fix: "every host must serve the same model" });
    }
    out.dModel = dModel;
  }
  return out;
}

function describe(f: IpcField): string {
  const t = f.type;
  const type = t.id === "int" ? `${t.signed ? "Int" : "Uint"}${t.bitWidth}` : t.id === "float" ? `Float(${t.precision})` : `FixedSizeList[${t.listSize}]`;
  return `${f.name}: ${type}${f.nullable ? " nullable" : ""}${f.children.length > 0 ? `<${f.children.map(describe).join(", ")}>` : ""}`;
}

/** True when `f` is exactly a column of `type` (non-nullable, no children unless a list). */
function matches(f: IpcField, name: string, type: ColumnType, header: ParsedHeader): boolean {
  if (f.name !== name || f.nullable) return false;
  const t = f.type;
  if (type === "u32") return t.id === "int" && t.bitWidth === 32 && !t.signed && f.children.length === 0;
  if (type === "f32") return t.id === "float" && t.precision === "single" && f.children.length === 0;
  if (type === "f64") return t.id === "float" && t.precision === "double" && f.children.length === 0;
  const child = f.children[0];
  return (
    t.id === "fixedSizeList" &&
    t.listSize === header.dModel &&
    f.children.length === 1 &&
    child.name === "item" &&
    !child.nullable &&
    child.children.length === 0 &&
    child.type.id === "float" &&
    child.type.precision === (header.dtype === "f16" ? "half" : "single")
  );
}

/**
 * Check that the schema's fields are exactly the kind's columns.
 * @throws SchemaMismatchError naming the first column that differs
 */
export function checkSchema(fields: readonly IpcField[], header: ParsedHeader): void {
  const columns = header.spec.columns;
  const expected = (): string => columns.map((c) => `${c}: ${COLUMN_TYPES[c]}`).join(", ");
  if (fields.length !== columns.length) {
    throw new SchemaMismatchError(`a ${header.kind} message has ${columns.length} columns (${expected()}), got ${fields.length}: ${fields.map(describe).join(", ")}`, { kind: header.kind, id: header.id });
  }
  for (let i = 0; i < columns.length; i++) {
    const name = columns[i];
    if (!matches(fields[i], name, COLUMN_TYPES[name], header)) {
      const want = COLUMN_TYPES[name] === "hidden" ? `FixedSizeList[${header.dModel}]<item: ${header.dtype === "f16" ? "Float(half)" : "Float(single)"}>` : COLUMN_TYPES[name];
      throw new SchemaMismatchError(`column ${i} of a ${header.kind} message must be ${name}: ${want}, non-nullable; got ${describe(fields[i])}`, { kind: header.kind, field: name, id: header.id });
    }
  }
}

/** Bytes per value of each column's data buffer (hidden: per element of the child). */
function elementBytes(c: ColumnName, header: ParsedHeader): number {
  if (COLUMN_TYPES[c] === "f64") return 8;
  return c === "hidden" && header.dtype === "f16" ? 2 : 4;
}

/**
 * Check the record batch: row count, node lengths and null counts, buffer
 * counts and sizes, against the (already checked) schema.
 * @throws SizeMismatchError
 */
export function checkBatch(layout: IpcLayout, header: ParsedHeader, expect: CompiledExpectation): void {
  const { kind, id } = header;
  const rows = layout.rows;
  const columns = header.spec.columns;
  const fail = (message: string, field?: string): never => {
    throw new SizeMismatchError(`${kind}: ${message}`, { kind, id, field });
  };
  if (columns.length === 0 && rows !== 0) fail(`a control message has ${rows} rows, expected 0`);
  if (rows > expect.maxRows) fail(`${rows} rows exceed the cap of ${expect.maxRows}`);
  const lists = columns.includes("hidden") ? 1 : 0;
  const nodesWanted = columns.length + lists;
  const buffersWanted = 2 * nodesWanted - lists; // a FixedSizeList has a validity buffer only
  if (layout.nodes.length !== nodesWanted) fail(`${layout.nodes.length} field nodes, expected ${nodesWanted}`);
  if (layout.buffers.length !== buffersWanted) fail(`${layout.buffers.length} buffers, expected ${buffersWanted}`);
  let node = 0;
  let buffer = 0;
  const take = (name: string, length: number, data: number): void => {
    const n = layout.nodes[node++];
    if (n.length !== length) fail(`column ${name} has ${n.length} values, expected ${length}`, name);
    if (n.nullCount !== 0) fail(`column ${name} has ${n.nullCount} nulls; no column may hold nulls`, name);
    const validity = layout.buffers[buffer++];
    if (validity.length !== 0 && validity.length < Math.ceil(length / 8)) fail(`column ${name} validity bitmap is ${validity.length} bytes, too short`, name);
    if (data < 0) return;
    const values = layout.buffers[buffer++];
    if (values.length < length * data) fail(`column ${name} data is ${values.length} bytes, expected ≥ ${length * data}`, name);
  };
  for (const c of columns) {
    if (c === "hidden") {
      take(c, rows, -1);
      take(`${c}.item`, rows * header.dModel!, elementBytes(c, header));
    } else {
      take(c, rows, elementBytes(c, header));
    }
  }
}

/** Index of the first NaN or ±Infinity in `values`, or -1. */
export function firstNonFinite(values: Float32Array | Float64Array): number {
  // v × 0 is 0 for a finite v and NaN for NaN or ±Infinity, and NaN stays in the sum: one test at the end
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]! * 0;
  if (sum === 0) return -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Throw {@link NonFiniteError} naming the row and column of a non-finite value, at flat index `at`. */
export function rejectNonFinite(header: ParsedHeader, column: string, at: number, width: number): never {
  throw new NonFiniteError(`${header.kind}: column ${column} holds a non-finite value at row ${Math.floor(at / width)}`, {
    kind: header.kind,
    id: header.id,
    field: column,
    layer: header.layer,
    expert: header.expert,
  });
}
