import { Float16, Float64, Int32, tableFromIPC } from "apache-arrow";
import { describe, expect, it } from "vitest";
import {
  ALL_KINDS,
  BadHeaderError,
  EncodeError,
  FrameTooLargeError,
  MalformedFrameError,
  NonFiniteError,
  SchemaMismatchError,
  SizeMismatchError,
  UnknownKindError,
  UnsupportedVersionError,
  decode,
  encode,
  encodeReference,
  f32ArrayToF16,
  KINDS,
  roundThroughF16,
  type Message,
} from "../../transport/index.js";
import { HIDDEN_KINDS, forge, hiddenColumns, hiddenHeader, prng, randInt, sample, wrongTypes } from "./helpers.js";

const dModel = 16;
const expect16 = { dModel };

/** The fields of a message that must survive a round trip (columns as plain arrays). */
function comparable(m: Message): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === "hiddenF16" || k === "wireDtype") continue;
    out[k] = ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v;
  }
  return out;
}

describe("codec round trips", () => {
  it.each(ALL_KINDS)("%s (f32) decodes to what was encoded", (kind) => {
    const msg = sample(kind, dModel, 5);
    const back = decode(encode(msg), expect16);
    expect(comparable(back)).toEqual(comparable(msg));
  });

  it.each(HIDDEN_KINDS)("%s (f16) decodes to the values rounded once to f16, exactly", (kind) => {
    const msg = { ...sample(kind, dModel, 5), wireDtype: "f16" as const };
    const frame = encode(msg);
    const back = decode(frame, expect16) as typeof msg;
    expect(back.wireDtype).toBe("f16");
    expect(Array.from(back.hidden)).toEqual(Array.from(roundThroughF16(msg.hidden)));
    // a second trip changes nothing: f16 values are exact after one round of rounding
    const again = decode(encode({ ...back, hiddenF16: undefined }), expect16) as typeof msg;
    expect(Array.from(again.hidden)).toEqual(Array.from(back.hidden));
    expect(Buffer.from(encode(back)).equals(Buffer.from(frame))).toBe(true);
  });

  it("f16 frames carry half the hidden bytes", () => {
    const msg = sample("moe.dispatch", 256, 16);
    const f32 = encode(msg).byteLength;
    const f16 = encode({ ...msg, wireDtype: "f16" }).byteLength;
    expect(Math.abs(f32 - f16 - 16 * 256 * 2)).toBeLessThanOrEqual(64); // padding may differ by a few bytes
  });

  it("zero rows and the largest ids and u32 values survive", () => {
    const empty = decode(encode(sample("router.request", dModel, 0)), expect16);
    expect(empty.kind).toBe("router.request");
    const msg = { ...sample("stage.input", dModel, 2), id: Number.MAX_SAFE_INTEGER, batch: 0xffffffff };
    msg.token[1] = 0xffffffff;
    const back = decode(encode(msg), expect16) as typeof msg;
    expect(back.id).toBe(Number.MAX_SAFE_INTEGER);
    expect(back.batch).toBe(0xffffffff);
    expect(back.token[1]).toBe(0xffffffff);
  });
});

describe("interoperability", () => {
  it("apache-arrow's own reader reads every kind the writer encodes (values, schema, header metadata)", () => {
    for (const kind of ALL_KINDS) {
      for (const wireDtype of ["f32", "f16"] as const) {
        const msg = { ...sample(kind, 24, 5), ...(HIDDEN_KINDS.includes(kind as never) ? { wireDtype } : {}) } as Message;
        const table = tableFromIPC(encode(msg));
        expect(table.schema.metadata.get("kind"), kind).toBe(kind);
        expect(table.schema.metadata.get("id")).toBe("42");
        const cols = msg as unknown as Record<string, unknown>;
        expect(table.schema.fields.map((f) => f.name)).toEqual([...KINDS[kind].columns]);
        expect(table.numRows).toBe(KINDS[kind].columns.length ? 5 : 0);
        for (const f of table.schema.fields) {
          expect(f.nullable).toBe(false);
          const col = table.getChild(f.name)!;
          if (f.name === "hidden") {
            const flat = col.data[0]!.children[0]!.values as Float32Array | Uint16Array;
            if (wireDtype === "f32") expect(Array.from(flat)).toEqual(Array.from(cols.hidden as Float32Array));
            else expect(Array.from(flat)).toEqual(Array.from(f32ArrayToF16(cols.hidden as Float32Array)));
          } else expect(Array.from(col.toArray() as ArrayLike<number>)).toEqual(Array.from(cols[f.name] as ArrayLike<number>));
        }
        if (!HIDDEN_KINDS.includes(kind as never)) break;
      }
    }
  });
});

describe("fast writer", () => {
  it("writes the same bytes as the flatbuffers builder for every kind, dtype, row count and header (and apache-arrow reads them)", () => {
    const rand = prng(7);
    let compared = 0;
    for (let round = 0; round < 40; round++) {
      for (const kind of ALL_KINDS) {
        const rows = round % 7 === 0 ? 0 : 1 + randInt(rand, 40);
        const wireDtype = round % 2 === 0 ? "f32" : "f16";
        const header = {
          id: [1, 42, 2 ** 31 + round, Number.MAX_SAFE_INTEGER][round % 4],
          deadline: round % 3 === 0 ? undefined : 1.7e12 + randInt(rand, 1e9) + 0.5,
          batch: round % 5 === 0 ? undefined : randInt(rand, 2 ** 32),
          sender: ["a", "router-0", "stage-1-x".repeat(1 + (round % 3))][round % 3],
          origin: round % 4 === 1 ? undefined : `gw-${round}`,
        };
        const msg = { ...sample(kind, 8 + (round % 3) * 8, rows, round + 1), ...header, ...(HIDDEN_KINDS.includes(kind as never) ? { wireDtype } : {}) } as Message;
        if ("layer" in msg && msg.kind !== "error") (msg as { layer: number }).layer = randInt(rand, 100);
        const fast = encode(msg);
        expect(Buffer.from(fast).equals(Buffer.from(encodeReference(msg))), `${kind} rows ${rows} round ${round}`).toBe(true);
        expect(tableFromIPC(fast).numRows).toBe(KINDS[kind].columns.length ? rows : 0);
        compared++;
      }
    }
    expect(compared).toBe(40 * ALL_KINDS.length);
  });
});

describe("verified schemas", () => {
  /** Offset of the first occurrence of ASCII `text` in `frame`. */
  const find = (frame: Uint8Array, text: string): number => Buffer.from(frame).indexOf(Buffer.from(text, "latin1"));

  it("a frame like one already verified still has its own values read and its own structure checked", () => {
    const msg = { ...sample("moe.dispatch", dModel, 4), sender: "cache-probe" };
    const frame = encode(msg);
    expect(decode(frame, expect16).sender).toBe("cache-probe"); // the shape is now known
    const renamed = frame.slice();
    renamed[find(renamed, "cache-probe") + 10] = "X".charCodeAt(0);
    expect(decode(renamed, expect16).sender).toBe("cache-probX");
    const nonAscii = frame.slice();
    nonAscii[find(nonAscii, "cache-probe")] = 0xff; // not UTF-8: the full walk rejects it
    expect(() => decode(nonAscii, expect16)).toThrow(MalformedFrameError);
    const column = frame.slice();
    column[find(column, "expert")] = "X".charCodeAt(0); // a column name, outside the header values
    expect(() => decode(column, expect16)).toThrow(SchemaMismatchError);
    const badKind = frame.slice();
    badKind[find(badKind, "moe.dispatch") + 4] = "X".charCodeAt(0);
    expect(() => decode(badKind, expect16)).toThrow(UnknownKindError);
  });
});

describe("zero-copy views", () => {
  it("decoded columns are views of the received frame's buffer (f32)", () => {
    const frame = encode(sample("moe.dispatch", dModel, 8));
    const m = decode(frame, expect16) as ReturnType<typeof sample<"moe.dispatch">>;
    for (const col of [m.hidden, m.row, m.seq, m.pos]) {
      expect(col.buffer).toBe(frame.buffer);
      expect(col.byteOffset).toBeGreaterThanOrEqual(frame.byteOffset);
      expect(col.byteOffset + col.byteLength).toBeLessThanOrEqual(frame.byteOffset + frame.byteLength);
    }
    expect(m.hidden).toBeInstanceOf(Float32Array);
    expect(m.hidden.length).toBe(8 * dModel);
    // writing through the frame shows in the view: no copy was made
    const at = m.hidden.byteOffset - frame.byteOffset;
    new DataView(frame.buffer, frame.byteOffset).setFloat32(at, 1234.5, true);
    expect(m.hidden[0]).toBe(1234.5);
  });

  it("f16 bits are a view of the frame; hidden is one bulk conversion", () => {
    const frame = encode({ ...sample("moe.result", dModel, 4), wireDtype: "f16" });
    const m = decode(frame, expect16) as ReturnType<typeof sample<"moe.result">>;
    expect(m.hiddenF16).toBeInstanceOf(Uint16Array);
    expect(m.hiddenF16!.buffer).toBe(frame.buffer);
    expect(m.hidden.buffer).not.toBe(frame.buffer);
  });

  it("a frame at an unaligned offset is copied once and still decodes", () => {
    const frame = encode(sample("moe.dispatch", dModel, 3));
    const shifted = new Uint8Array(frame.byteLength + 1).subarray(1);
    shifted.set(frame);
    const m = decode(shifted, expect16);
    expect(comparable(m)).toEqual(comparable(decode(frame, expect16)));
  });
});

describe("validation rejects", () => {
  const dispatchFrame = (columns = hiddenColumns(3, dModel), header = hiddenHeader("router.request", dModel), rows = 3): Uint8Array => forge(columns, header, rows);

  it("accepts a hand-built frame identical in schema (control)", () => {
    expect(decode(dispatchFrame(), expect16).kind).toBe("router.request");
  });

  it("a d_model that differs from the model's", () => {
    const frame = encode(sample("moe.dispatch", 8, 3));
    expect(() => decode(frame, expect16)).toThrow(SizeMismatchError);
    try {
      decode(frame, expect16);
    } catch (e) {
      expect((e as SizeMismatchError).field).toBe("d_model");
      expect((e as SizeMismatchError).kind).toBe("moe.dispatch");
    }
  });

  it("a list size that differs from the header's d_model", () => {
    expect(() => decode(dispatchFrame(hiddenColumns(3, dModel + 1)), expect16)).toThrow(SchemaMismatchError);
  });

  it.each([
    ["a signed seq column", (c: ReturnType<typeof hiddenColumns>) => (c[1] = { name: "seq", type: new Int32(), data: wrongTypes.int32(3) })],
    ["a text column", (c: ReturnType<typeof hiddenColumns>) => (c[2] = { name: "pos", type: wrongTypes.utf8(3).type, data: wrongTypes.utf8(3) })],
    ["a missing column", (c: ReturnType<typeof hiddenColumns>) => c.splice(1, 1)],
    ["an extra column", (c: ReturnType<typeof hiddenColumns>) => c.push({ ...c[0], name: "extra" })],
    ["swapped columns", (c: ReturnType<typeof hiddenColumns>) => ([c[1], c[2]] = [c[2], c[1]])],
    ["a renamed column", (c: ReturnType<typeof hiddenColumns>) => (c[0] = { ...c[0], name: "rows" })],
    ["a nullable column", (c: ReturnType<typeof hiddenColumns>) => (c[0] = { ...c[0], nullable: true })],
    ["f64 hidden", (c: ReturnType<typeof hiddenColumns>) => (c[3] = hiddenColumns(3, dModel, new Float64())[3])],
    ["f16 hidden under an f32 header", (c: ReturnType<typeof hiddenColumns>) => (c[3] = hiddenColumns(3, dModel, new Float16())[3])],
  ])("a wrong schema: %s", (_name, mutate) => {
    const columns = hiddenColumns(3, dModel);
    mutate(columns);
    expect(() => decode(dispatchFrame(columns), expect16)).toThrow(SchemaMismatchError);
  });

  it("the schema of another kind under this kind's name", () => {
    const frame = forge(hiddenColumns(3, dModel), { ...hiddenHeader("stage.tokens", dModel), layer: "" }, 3);
    expect(() => decode(frame, expect16)).toThrow(BadHeaderError); // layer/dtype are not stage.tokens header keys
    const bare = forge(hiddenColumns(3, dModel), { kind: "stage.tokens", v: "2", id: "1" }, 3);
    expect(() => decode(bare, expect16)).toThrow(SchemaMismatchError);
  });

  it.each([
    ["unknown kind", { kind: "moe.dispatch2" }, UnknownKindError],
    ["kind not accepted", { kind: "router.response" }, UnknownKindError],
    ["version 1 (before typed sampling columns)", { v: "1" }, UnsupportedVersionError],
    ["version 3", { v: "3" }, UnsupportedVersionError],
    ["missing version", { v: undefined }, UnsupportedVersionError],
    ["non-numeric id", { id: "abc" }, BadHeaderError],
    ["negative layer", { layer: "-1" }, BadHeaderError],
    ["missing layer", { layer: undefined }, BadHeaderError],
    ["expert in the header of a kind that has none", { expert: "5" }, BadHeaderError],
    ["unknown key", { colour: "blue" }, BadHeaderError],
    ["bad dtype", { dtype: "bf16" }, BadHeaderError],
    ["the v1 free-form extra header", { extra: "{}" }, BadHeaderError],
    ["origin with control characters", { origin: "a\tb" }, BadHeaderError],
    ["sender with control characters", { sender: "a\nb" }, BadHeaderError],
  ] as const)("a bad header: %s", (_name, change, error) => {
    const header: Record<string, string> = { ...hiddenHeader("router.request", dModel) };
    for (const [k, v] of Object.entries(change)) {
      if (v === undefined) delete header[k];
      else header[k] = v;
    }
    expect(() => decode(dispatchFrame(undefined, header), { dModel, kinds: ["router.request"] })).toThrow(error);
  });

  it("NaN and ±Infinity in hidden (f32 and f16) and in logprob", () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const msg = sample("router.response", dModel, 4);
      msg.hidden[37] = bad;
      expect(() => decode(encode(msg), expect16)).toThrow(NonFiniteError);
      expect(() => decode(encode({ ...msg, wireDtype: "f16" }), expect16)).toThrow(NonFiniteError);
      const tokens = sample("stage.tokens", dModel, 4);
      tokens.logprob[2] = bad;
      expect(() => decode(encode(tokens), expect16)).toThrow(NonFiniteError);
    }
    const big = sample("moe.result", dModel, 2);
    big.hidden[0] = 1e6; // finite in f32, Infinity in f16
    expect(() => decode(encode({ ...big, wireDtype: "f16" }), expect16)).toThrow(NonFiniteError);
    const nan = sample("moe.result", dModel, 2);
    nan.hidden[1] = NaN;
    expect(Number.isNaN((decode(encode(nan), { dModel, requireFinite: false }) as typeof nan).hidden[1])).toBe(true);
  });

  it("a frame over maxMessageSize, before parsing", () => {
    const frame = encode(sample("moe.dispatch", dModel, 64));
    expect(() => decode(frame, { dModel, maxMessageSize: frame.byteLength - 1 })).toThrow(FrameTooLargeError);
    expect(decode(frame, { dModel, maxMessageSize: frame.byteLength }).kind).toBe("moe.dispatch");
  });

  it("more rows than maxRows, a dtype not accepted", () => {
    const frame = encode(sample("moe.dispatch", dModel, 10));
    expect(() => decode(frame, { dModel, maxRows: 9 })).toThrow(SizeMismatchError);
    expect(() => decode(encode({ ...sample("moe.dispatch", dModel, 2), wireDtype: "f16" }), { dModel, dtypes: ["f32"] })).toThrow(BadHeaderError);
  });

  it("framing errors: empty, truncated, trailing bytes, no continuation marker, huge metadata length", () => {
    const frame = encode(sample("ping", dModel));
    const cases = [
      new Uint8Array(0),
      frame.subarray(0, 7),
      frame.subarray(0, frame.byteLength - 20),
      Buffer.concat([frame, Buffer.alloc(8)]),
      Buffer.concat([Buffer.alloc(4), frame.subarray(4)]),
    ];
    const huge = Buffer.from(frame);
    huge.writeInt32LE(0x7ffffff8, 4);
    const negative = Buffer.from(frame);
    negative.writeInt32LE(-8, 4);
    for (const bad of [...cases, huge, negative]) expect(() => decode(bad, expect16)).toThrow(MalformedFrameError);
  });

  it("error texts quoting bytes of a bad frame still encode to a valid frame", () => {
    const msg = { ...sample("error", dModel), message: `bad key "a\0b" ${"x".repeat(2000)}` };
    const back = decode(encode(msg), expect16) as typeof msg;
    expect(back.message).toHaveLength(1024);
    expect(back.message).not.toContain("\0");
    expect(() => encode({ ...msg, code: "has space" })).toThrow(EncodeError);
    expect(() => encode({ ...msg, sender: "tab\there" })).toThrow(EncodeError);
  });

  it("encode refuses columns of the wrong length or type", () => {
    const msg = sample("moe.dispatch", dModel, 3);
    expect(() => encode({ ...msg, seq: new Uint32Array(2) })).toThrow(EncodeError);
    expect(() => encode({ ...msg, hidden: new Float32Array(3 * dModel - 1) })).toThrow(EncodeError);
    expect(() => encode({ ...msg, pos: new Float32Array(3) as unknown as Uint32Array })).toThrow(EncodeError);
    expect(() => encode({ ...msg, layer: -1 })).toThrow(EncodeError);
    expect(() => encode({ ...msg, dModel: 0 })).toThrow(EncodeError);
  });
});
