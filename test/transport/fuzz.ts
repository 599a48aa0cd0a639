/**
 * Fuzz frames for transport tests: mutations of valid frames of every kind
 * (bit flips, truncations, extensions, corrupt length fields, huge declared
 * lengths, NaN/Inf, wrong schema, wrong kind, wrong d_model) and random bytes,
 * each labelled with whether it is invalid *by construction* (`mustReject`).
 *
 * Which mutations may still be valid, exactly:
 * - bit flips: a flip in padding, in a column value (a finite float stays
 *   finite or not), or in a header value that keeps its format (a digit of
 *   `id`, a letter of `sender`) leaves a valid frame;
 * - truncation exactly before the 8-byte end-of-stream marker leaves a valid
 *   stream (the marker is optional); every other truncation is invalid;
 * - word overwrites in the metadata and huge row counts may land in padding
 *   or in a field that tolerates the value;
 * - random bytes that start with the continuation marker.
 * Everything else is invalid by construction. The test's oracle for the
 * "may" cases is an in-process decode of the very same bytes.
 */
import { Float16, Float64, Int32 } from "apache-arrow";
import { encode, type Kind, type Message } from "../../transport/index.js";
import { HIDDEN_KINDS, forge, hiddenColumns, hiddenHeader, prng, randInt, sample, wrongTypes } from "./helpers.js";

/** One fuzz case: the frames of one ZeroMQ message. */
export interface FuzzCase {
  readonly parts: Uint8Array[];
  readonly mutation: string;
  /** True when the frame is invalid by construction. */
  readonly mustReject: boolean;
}

/** Settings of a fuzz run. */
export interface FuzzSettings {
  readonly dModel: number;
  /** The receiver's frame cap, bytes (oversize frames are made just above it). */
  readonly maxMessageSize: number;
  /** Kinds the receiver accepts; a kind outside them is sent as a "wrong kind" case. */
  readonly acceptedKinds: readonly Kind[];
  /** A kind the receiver does not accept (must have columns). */
  readonly refusedKind: Kind;
  /** First request id used in frames (keep clear of the ids the test waits on). */
  readonly idBase: number;
}

function withId(m: Message, id: number): Message {
  return { ...m, id };
}

interface Base {
  frame: Uint8Array;
  /** Rows of the record batch (0 for control kinds). */
  rows: number;
}

/** Valid frames of the accepted kinds: f32 and f16, 0 to 8 rows. */
function bases(s: FuzzSettings): Base[] {
  const out: Base[] = [];
  let id = s.idBase;
  for (const kind of s.acceptedKinds) {
    const control = kind === "error" || kind === "ping" || kind === "pong" || kind === "ready";
    for (const rows of control ? [0] : [0, 1, 3, 8]) {
      const m = sample(kind, s.dModel, rows, rows + 1);
      out.push({ frame: encode(withId(m, id++)), rows });
      if ((HIDDEN_KINDS as readonly string[]).includes(kind)) out.push({ frame: encode(withId({ ...m, wireDtype: "f16" } as Message, id++)), rows });
    }
  }
  return out;
}

/** Hand-built frames whose schema is wrong for their kind. */
function wrongSchemas(s: FuzzSettings): Uint8Array[] {
  const d = s.dModel;
  const h = hiddenHeader("router.request", d);
  const cols = (): ReturnType<typeof hiddenColumns> => hiddenColumns(3, d);
  const variants: ReturnType<typeof hiddenColumns>[] = [];
  let c = cols();
  c[1] = { name: "seq", type: new Int32(), data: wrongTypes.int32(3) };
  variants.push(c);
  c = cols();
  c[2] = { name: "pos", type: wrongTypes.utf8(3).type, data: wrongTypes.utf8(3) };
  variants.push(c);
  variants.push(cols().slice(0, 3));
  c = cols();
  c.push({ ...c[0], name: "extra" });
  variants.push(c);
  c = cols();
  [c[0], c[1]] = [c[1], c[0]];
  variants.push(c);
  c = cols();
  c[0] = { ...c[0], nullable: true };
  variants.push(c);
  c = cols();
  c[3] = hiddenColumns(3, d, new Float64())[3];
  variants.push(c);
  c = cols();
  c[3] = hiddenColumns(3, d, new Float16())[3]; // f16 values under an f32 header
  variants.push(c);
  c = cols();
  c[3] = hiddenColumns(3, d + 1)[3]; // list size ≠ d_model
  variants.push(c);
  const frames = variants.map((v) => forge(v, h, 3));
  // the schema of one kind under the name of another
  for (const kind of ["stage.tokens", "seq.release", "ping", "stage.input"]) frames.push(forge(cols(), { kind, v: "1", id: "5" }, 3));
  return frames;
}

/** Frames with a wrong header: unknown kind, unsupported version, bad fields, refused kind, wrong d_model. */
function wrongHeaders(s: FuzzSettings): Uint8Array[] {
  const d = s.dModel;
  const h = hiddenHeader("router.request", d);
  const cols = hiddenColumns(2, d);
  const frames = [
    { ...h, kind: "moe.dispatcher" },
    { ...h, kind: "" },
    { ...h, v: "1" },
    { ...h, v: "3" },
    { ...h, v: "1.0" },
    { ...h, id: "-1" },
    { ...h, id: "99999999999999999999" },
    { ...h, layer: "x" },
    { ...h, dtype: "f64" },
    { ...h, d_model: String(d * 2) },
    { ...h, extra: "{}" },
    { ...h, unknown: "1" },
  ].map((header) => forge(cols, header, 2));
  const rest = { ...h };
  delete (rest as Record<string, string>).kind;
  frames.push(forge(cols, rest, 2));
  frames.push(encode(sample(s.refusedKind, d, 2)));
  frames.push(encode(sample("moe.dispatch", d * 2, 2)));
  frames.push(encode({ ...sample("moe.dispatch", d + 1, 2), wireDtype: "f16" }));
  return frames;
}

function nonFinite(s: FuzzSettings, rand: () => number): Uint8Array {
  const kinds = s.acceptedKinds.filter((k) => (HIDDEN_KINDS as readonly string[]).includes(k) || k === "stage.tokens");
  const kind = kinds[randInt(rand, kinds.length)];
  const rows = 1 + randInt(rand, 6);
  const m = sample(kind, s.dModel, rows, 9) as Message & { hidden?: Float32Array; logprob?: Float32Array };
  const bad = [NaN, Infinity, -Infinity][randInt(rand, 3)];
  const target = m.hidden ?? m.logprob!;
  target[randInt(rand, target.length)] = bad;
  const f16 = m.hidden !== undefined && rand() < 0.5;
  return encode((f16 ? { ...m, wireDtype: "f16" } : m) as Message);
}

/** Positions (0-based) of the metadata of the two messages: [start, end) pairs. */
function metadataRegions(frame: Uint8Array): [number, number][] {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const m1 = v.getInt32(4, true);
  const second = 8 + m1;
  const m2 = v.getInt32(second + 4, true);
  return [
    [8, 8 + m1],
    [second + 8, second + 8 + m2],
  ];
}

function findAll(hay: Uint8Array, needle: Uint8Array, from: number, to: number): number[] {
  const out: number[] = [];
  outer: for (let i = from; i + needle.length <= to; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    out.push(i);
  }
  return out;
}

function int64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, n, true);
  return b;
}

const copy = (f: Uint8Array): Uint8Array => Uint8Array.from(f);

/**
 * Generate `n` fuzz cases, deterministic for a seed.
 * @returns the cases, in sending order
 */
export function fuzzCases(n: number, seed: number, s: FuzzSettings): FuzzCase[] {
  const rand = prng(seed);
  const based = bases(s);
  const valid = based.map((b) => b.frame);
  const schemas = wrongSchemas(s);
  const headers = wrongHeaders(s);
  const pick = <T>(a: readonly T[]): T => a[randInt(rand, a.length)];
  const out: FuzzCase[] = [];
  const add = (parts: Uint8Array[], mutation: string, mustReject: boolean): void => void out.push({ parts, mutation, mustReject });
  const mutations: [number, () => void][] = [
    [5, () => add([pick(valid)], "valid", false)],
    [
      22,
      () => {
        const f = copy(pick(valid));
        for (let i = 1 + randInt(rand, 8); i > 0; i--) {
          const bit = randInt(rand, f.length * 8);
          f[bit >> 3] ^= 1 << (bit & 7);
        }
        add([f], "bit flips", false);
      },
    ],
    [
      10,
      () => {
        const f = pick(valid);
        const k = randInt(rand, f.length);
        add([f.slice(0, k)], "truncation", k !== f.length - 8);
      },
    ],
    [
      5,
      () => {
        const f = pick(valid);
        const tail = Uint8Array.from({ length: 1 + randInt(rand, 64) }, () => randInt(rand, 256));
        const g = new Uint8Array(f.length + tail.length);
        g.set(f);
        g.set(tail, f.length);
        add([g], "extension", true);
      },
    ],
    [
      8,
      () => {
        const f = copy(pick(valid));
        const v = new DataView(f.buffer);
        const at = rand() < 0.5 ? 4 : 8 + v.getInt32(4, true) + 4;
        const orig = v.getInt32(at, true);
        const values = [0x7ffffff8, 0x7fffffff, f.length, f.length + 8, -8, -1, 0, orig + 1 + randInt(rand, 7)];
        v.setInt32(at, pick(values), true);
        add([f], "metadata length", true);
      },
    ],
    [
      8,
      () => {
        const f = copy(pick(valid));
        const region = pick(metadataRegions(f));
        const words = Math.floor((region[1] - region[0]) / 4);
        const at = region[0] + 4 * randInt(rand, words);
        const values = [0x7fffffff, 0xffffffff, 0x80000000, 0x00010000, 0x00100000, randInt(rand, 2 ** 32)];
        new DataView(f.buffer).setUint32(at, pick(values), true);
        add([f], "metadata word", false);
      },
    ],
    [
      6,
      () => {
        const f = copy(pick(valid));
        const [, batch] = metadataRegions(f);
        const bodyLength = f.length - 8 - batch[1];
        const hits = bodyLength > 0 ? findAll(f, int64(BigInt(bodyLength)), batch[0], batch[1]) : [];
        if (hits.length !== 1) return; // the field cannot be told apart: skip this case
        const values = [2n ** 40n, 2n ** 62n, -8n, BigInt(bodyLength + 16), BigInt(bodyLength + 1), BigInt(f.length) * 1000n];
        f.set(int64(pick(values)), hits[0]);
        add([f], "body length", true);
      },
    ],
    [
      5,
      () => {
        // a huge declared row count: one int64 equal to the row count (RecordBatch.length or a node length)
        const base = pick(based.filter((b) => b.rows > 0));
        const f = copy(base.frame);
        const [, batch] = metadataRegions(f);
        const hits = findAll(f, int64(BigInt(base.rows)), batch[0], batch[1]);
        if (hits.length === 0) return;
        f.set(int64(pick([2n ** 31n, 2n ** 40n, 2n ** 53n - 1n, 2n ** 63n - 1n])), pick(hits));
        add([f], "declared rows", false);
      },
    ],
    [7, () => add([nonFinite(s, rand)], "NaN/Inf", true)],
    [7, () => add([pick(schemas)], "wrong schema", true)],
    [6, () => add([pick(headers)], "wrong header or kind", true)],
    [
      8,
      () => {
        const f = Uint8Array.from({ length: randInt(rand, 2048) }, () => randInt(rand, 256));
        if (f.length > 0 && f[0] === 0xff) f[0] = 0;
        add([f], "random bytes", true);
      },
    ],
    [
      3,
      () => {
        const f = Uint8Array.from({ length: 8 + randInt(rand, 1024) }, () => randInt(rand, 256));
        new DataView(f.buffer).setUint32(0, 0xffffffff, true);
        add([f], "random bytes after a continuation marker", false);
      },
    ],
    [2, () => add([pick(valid), pick(valid)], "two frames", true)],
    [1, () => add([new Uint8Array(0)], "empty frame", true)],
  ];
  const total = mutations.reduce((a, [w]) => a + w, 0);
  let oversize = 0;
  while (out.length < n) {
    if (oversize < 10 && rand() < 0.002) {
      oversize++;
      const f = new Uint8Array(s.maxMessageSize + 1 + randInt(rand, 1000));
      f.set(pick(valid));
      add([f], "oversize frame", true);
      continue;
    }
    let r = rand() * total;
    for (const [w, make] of mutations) {
      r -= w;
      if (r < 0) {
        make();
        break;
      }
    }
  }
  return out;
}

