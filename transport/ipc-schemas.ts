/**
 * Schema messages the verifier (`ipc.ts`) has already checked, so that a
 * frame whose schema message differs from one of them only in the bytes of
 * its metadata values is not walked again.
 *
 * Why this is the same check: a flatbuffer's structure (offsets, vtables,
 * lengths, field tables, keys, null terminators) lies entirely outside the
 * bytes of its strings' contents. A schema message byte-equal to a verified
 * one everywhere except inside its metadata values has the same fields, the
 * same keys, values of the same lengths at the same places; only the values'
 * text can differ. Those bytes are read here, and accepted only when they
 * are ASCII (always valid UTF-8, as the full walk requires); anything else
 * takes the full walk. The header checks (`validate.ts`) then run on the
 * values as for any frame. Data-plane frames of one shape (kind, dtype,
 * d_model, header value lengths) share one entry, so the walk of the fields
 * (a dozen tables and strings) runs once per shape instead of per message.
 */
import type { IpcField } from "./ipc.js";

interface Entry {
  /** `[start, length]` of each metadata value within `bytes`, in metadata order; start -1 = absent. */
  readonly spans: readonly (readonly [number, number])[];
  readonly keys: readonly string[];
  /** Values of the verified message, for absent ones (""). */
  readonly values: readonly string[];
  readonly fields: readonly IpcField[];
  /** `bytes` as little-endian 32-bit words, and per word the mask of its bytes outside the values. */
  readonly words: Uint32Array;
  readonly masks: Uint32Array;
}

/** Entries by metadata length; at most {@link MAX_ENTRIES} in all. */
const byLength = new Map<number, Entry[]>();
let entries = 0;
const MAX_ENTRIES = 256;
const MAX_PER_LENGTH = 8;

/** What {@link knownSchema} returns: the layout's schema part and where the record batch message starts. */
export interface KnownSchema {
  readonly fields: readonly IpcField[];
  readonly metadata: readonly (readonly [string, string])[];
  /** Frame offset just past the schema message. */
  readonly end: number;
}

/**
 * The schema part of `frame`'s layout when its schema message matches a verified one outside its metadata
 * values (and those are ASCII); undefined otherwise (the caller walks it).
 */
export function knownSchema(frame: Uint8Array, view: DataView): KnownSchema | undefined {
  if (frame.byteLength < 8 || frame.byteOffset % 4 !== 0 || view.getUint32(0, true) !== 0xffffffff) return undefined;
  const length = view.getInt32(4, true);
  const list = byLength.get(length);
  if (list === undefined || frame.byteLength < 8 + length) return undefined;
  for (const e of list) {
    if (!sameOutsideValues(frame, e)) continue;
    const metadata: [string, string][] = [];
    for (let i = 0; i < e.spans.length; i++) {
      const [start, len] = e.spans[i]!;
      if (start < 0) {
        metadata.push([e.keys[i]!, e.values[i]!]);
        continue;
      }
      const value = ascii(frame, 8 + start, len);
      if (value === undefined) return undefined;
      metadata.push([e.keys[i]!, value]);
    }
    return { fields: e.fields, metadata, end: 8 + length };
  }
  return undefined;
}

/** Keep a schema message the full walk accepted (its metadata is `frame[8, 8 + length)`). */
export function rememberSchema(frame: Uint8Array, length: number, fields: readonly IpcField[], metadata: readonly (readonly [string, string])[], spans: readonly (readonly [number, number])[]): void {
  if (entries >= MAX_ENTRIES) {
    byLength.clear();
    entries = 0;
  }
  let list = byLength.get(length);
  if (list === undefined) byLength.set(length, (list = []));
  if (list.length >= MAX_PER_LENGTH) return;
  const bytes = frame.slice(8, 8 + length); // length is a multiple of 8 (checked by the walk)
  const maskBytes = new Uint8Array(length).fill(0xff);
  for (const [s, l] of spans) if (s >= 0) maskBytes.fill(0, s, s + l);
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, length / 4);
  const masks = new Uint32Array(maskBytes.buffer, 0, length / 4);
  list.push({ spans, keys: metadata.map(([k]) => k), values: metadata.map(([, v]) => v), fields: deepFreeze(fields), words, masks });
  entries++;
}

/** Whether `frame`'s schema metadata (8-aligned: the verifier's frames are) equals `e`'s outside the values. */
function sameOutsideValues(frame: Uint8Array, e: Entry): boolean {
  const { words, masks } = e;
  const got = new Uint32Array(frame.buffer, frame.byteOffset + 8, words.length);
  for (let i = 0; i < words.length; i++) if (((got[i]! ^ words[i]!) & masks[i]!) !== 0) return false;
  return true;
}

/** The text of `length` bytes at `at` when all are ASCII, else undefined. */
function ascii(frame: Uint8Array, at: number, length: number): string | undefined {
  for (let i = at; i < at + length; i++) if (frame[i]! > 0x7f) return undefined;
  return String.fromCharCode.apply(null, frame.subarray(at, at + length) as unknown as number[]);
}

function deepFreeze(fields: readonly IpcField[]): readonly IpcField[] {
  for (const f of fields) {
    deepFreeze(f.children);
    Object.freeze(f.type);
    Object.freeze(f.children);
    Object.freeze(f);
  }
  return Object.freeze(fields);
}
