/**
 * Test helpers for transport/: unique addresses per transport (tcp on an
 * ephemeral port, ipc in the temp dir), sample messages of every kind, a
 * registry of things to close after each test, and a seeded PRNG.
 */
import { mulberry32 } from "../../model/index.js";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Field,
  FixedSizeList,
  Float16,
  Float32,
  Float64,
  Int32,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Uint32,
  Utf8,
  makeData,
  tableToIPC,
  vectorFromArray,
  type Data,
  type DataType,
} from "apache-arrow";
import type { Message, MessageOf, Kind } from "../../transport/index.js";

/** Transports every socket test runs over. */
export const TRANSPORTS = ["tcp", "ipc"] as const;
export type TransportName = (typeof TRANSPORTS)[number];

let counter = 0;
const ipcPaths: string[] = [];

/** A fresh bind address: tcp on 127.0.0.1 port 0, or a unique ipc path (removed by {@link Closer.closeAll}). */
export function address(transport: TransportName): string {
  if (transport === "tcp") return "tcp://127.0.0.1:0";
  counter++;
  const path = join(tmpdir(), `moe-transport-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}.sock`);
  ipcPaths.push(path);
  return `ipc://${path}`;
}

/** Things with a close(); closed (in reverse order) by {@link Closer.closeAll}, then ipc files removed. */
export class Closer {
  private readonly items: { close(): unknown }[] = [];
  add<T extends { close(): unknown }>(item: T): T {
    this.items.push(item);
    return item;
  }
  async closeAll(): Promise<void> {
    while (this.items.length > 0) await this.items.pop()!.close();
    while (ipcPaths.length > 0) rmSync(ipcPaths.pop()!, { force: true });
  }
}

/** The project's seeded PRNG (mulberry32), uniform in [0, 1). */
export const prng = mulberry32;

/** An integer in [0, n). */
export function randInt(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function u32(rows: number, f: (i: number) => number): Uint32Array {
  return Uint32Array.from({ length: rows }, (_, i) => f(i));
}

/** `[rows, dModel]` deterministic finite values, including negatives, small and large magnitudes. */
export function hiddenValues(rows: number, dModel: number, seed = 1): Float32Array {
  const rand = prng(seed);
  return Float32Array.from({ length: rows * dModel }, () => (rand() - 0.5) * 2 ** (randInt(rand, 30) - 15));
}

/** One sample message of `kind`. */
export function sample<K extends Kind>(kind: K, dModel: number, rows = 3, seed = 1): MessageOf<K> {
  const base = { row: u32(rows, (i) => i), seq: u32(rows, (i) => 100 + i), pos: u32(rows, (i) => 7 * i), hidden: hiddenValues(rows, dModel, seed), dModel };
  const env = { id: 42, batch: 3, sender: "test-sender", origin: "gateway-1-abcd" };
  const f32 = (f: (i: number) => number) => Float32Array.from({ length: rows }, (_, i) => f(i));
  const sampling = {
    flags: u32(rows, (i) => (i === rows - 1 ? 1 : 2)),
    temperature: f32((i) => 0.5 * i),
    top_p: f32(() => 0.9),
    top_k: u32(rows, (i) => i),
    min_p: f32(() => 0.05),
    presence_penalty: f32((i) => -i / 2),
    frequency_penalty: f32((i) => i / 4),
    repetition_penalty: f32(() => 1.1),
    seed: u32(rows, (i) => 0xfffffff0 + i),
    top_logprobs: u32(rows, (i) => i % 21),
  };
  const all: { [k in Kind]: MessageOf<k> } = {
    "moe.dispatch": { kind: "moe.dispatch", ...env, ...base, layer: 2, expert: u32(rows, (i) => (i < 2 ? 5 : 7)) },
    "moe.result": { kind: "moe.result", ...env, ...base, layer: 2, expert: u32(rows, (i) => (i < 2 ? 5 : 7)) },
    "router.request": { kind: "router.request", ...env, ...base, layer: 1 },
    "router.response": { kind: "router.response", ...env, ...base, layer: 1 },
    "stage.forward": { kind: "stage.forward", ...env, ...base, ...sampling, token: u32(rows, (i) => 1000 + i) },
    "stage.tokens": { kind: "stage.tokens", ...env, seq: base.seq, rank: u32(rows, (i) => i), token: u32(rows, (i) => 9 + i), logprob: f32((i) => -0.25 * i) },
    "stage.logits": { kind: "stage.logits", ...env, ...base },
    "stage.input": { kind: "stage.input", ...env, seq: base.seq, pos: base.pos, token: u32(rows, (i) => 50 + i), ...sampling },
    "seq.bias": { kind: "seq.bias", ...env, seq: base.seq, token: u32(rows, (i) => 3 * i), bias: f32((i) => 100 - 50 * i) },
    "seq.release": { kind: "seq.release", ...env, seq: base.seq },
    "status.request": { kind: "status.request", ...env },
    status: { kind: "status", ...env, metric: u32(rows, (i) => i), a: u32(rows, (i) => 2 * i), b: u32(rows, (i) => 3 * i), value: Float64Array.from({ length: rows }, (_, i) => 2 ** 40 + i / 3) },
    error: { kind: "error", ...env, code: "EXPERT_NOT_LOADED", message: "expert (2, 5) is not on this host", layer: 2, expert: 5, host: "host-a" },
    ping: { kind: "ping", ...env },
    pong: { kind: "pong", ...env },
    ready: { kind: "ready", ...env },
  };
  return all[kind] as MessageOf<K>;
}

/** Kinds that carry a `hidden` column. */
export const HIDDEN_KINDS = ["moe.dispatch", "moe.result", "router.request", "router.response", "stage.forward", "stage.logits"] as const;

/** A column for {@link forge}: name, Arrow type, data. */
export interface ForgedColumn {
  name: string;
  type: DataType;
  data: Data;
  nullable?: boolean;
}

/** Columns of a hidden-rows message, for forging variants. */
export function hiddenColumns(rows: number, dModel: number, item: DataType = new Float32()): ForgedColumn[] {
  const u = (name: string): ForgedColumn => ({ name, type: new Uint32(), data: makeData({ type: new Uint32(), length: rows, data: u32(rows, (i) => i) }) });
  const childLength = rows * dModel;
  const values = item instanceof Float16 ? new Uint16Array(childLength) : item instanceof Float64 ? new Float64Array(childLength) : new Float32Array(childLength);
  const child = makeData({ type: item, length: childLength, data: values } as never);
  const list = new FixedSizeList(dModel, new Field("item", item, false));
  return [u("row"), u("seq"), u("pos"), { name: "hidden", type: list, data: makeData({ type: list, length: rows, child }) }];
}

/** Other column types used to build wrong schemas. */
export const wrongTypes = {
  int32: (rows: number): ForgedColumn["data"] => makeData({ type: new Int32(), length: rows, data: new Int32Array(rows) }),
  utf8: (rows: number): ForgedColumn["data"] => vectorFromArray(Array.from({ length: rows }, () => "x"), new Utf8()).data[0],
};

/** Build an Arrow IPC stream by hand, with any columns and header, bypassing `encode`. */
export function forge(columns: ForgedColumn[], header: Record<string, string>, rows: number): Uint8Array {
  const fields = columns.map((c) => new Field(c.name, c.type, c.nullable ?? false));
  const schema = new Schema(fields, new Map(Object.entries(header)));
  const struct = makeData({ type: new Struct(fields), length: rows, nullCount: 0, children: columns.map((c) => c.data) });
  return tableToIPC(new Table([new RecordBatch(schema, struct)]), "stream");
}

/** The header `encode` would write for a hidden-rows message of `kind`. */
export function hiddenHeader(kind: string, dModel: number, extra: Record<string, string> = {}): Record<string, string> {
  return { kind, v: "2", id: "42", layer: "2", dtype: "f32", d_model: String(dModel), ...extra };
}

export type { Message };
