/**
 * Weights over the network (dynamic mode): the coordinator serves the files
 * of its manifests in chunks on `<prefix>.weights` (NATS request/reply); a
 * node fetches what its disk lacks, several chunks in flight, each chunk
 * checked (CRC-32 in a header), the whole file checked (SHA-256) before it
 * takes its name. A download survives a broken connection (chunks are
 * retried while the client reconnects) and a restart of the node: bytes
 * already written stay in `<file>.partial`, with the contiguous prefix
 * recorded in `<file>.partial.json`, and the next fetch resumes there.
 *
 * Request: JSON {@link ChunkRequest}. Reply: the bytes, header `Moe-Crc32`
 * (decimal); or an empty body with header `Moe-Error`. Only files of a
 * served manifest are ever read.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { headers, type Msg, type NatsConnection, type Subscription } from "nats";
import type { Logger } from "pino";
import { z } from "zod";
import { ControlError } from "./errors.js";
import { decodeJson, encodeJson } from "./nats-wire.js";
import { writeJsonAtomic } from "./files.js";
import { manifestFilePath, sha256File, type ChecksumCache, type WeightFile, type WeightManifest } from "./weights.js";

/** One chunk asked for. */
export const chunkRequestSchema = z.strictObject({
  root: z.string(),
  path: z.string(),
  sha256: z.string(),
  /** Byte offset in the file. */
  offset: z.number().int().min(0),
  /** Bytes wanted (the server may send fewer only at the end of the file). */
  length: z.number().int().min(1),
});
export type ChunkRequest = z.infer<typeof chunkRequestSchema>;

/** Default chunk: 512 KiB (NATS's default max payload is 1 MiB). */
export const DEFAULT_CHUNK_BYTES = 512 * 1024;

/** A download that could not finish. */
export class WeightTransferError extends ControlError {
  constructor(message: string, ctx: { file?: string; fix?: string; cause?: unknown } = {}) {
    super("WEIGHT_TRANSFER", message, ctx);
  }
}

/** Serves chunks of the files of the manifests it is given. */
export class WeightServer {
  private readonly files = new Map<string, { path: string; size: number }>();
  private readonly handles = new Map<string, Promise<FileHandle>>();
  private readonly sub: Subscription;
  /** Bytes and chunks served. */
  readonly stats = { chunks: 0, bytes: 0, errors: 0 };

  constructor(
    private readonly nc: NatsConnection,
    subject: string,
    private readonly logger?: Logger,
  ) {
    this.sub = nc.subscribe(subject, { callback: (err, msg) => void (err ? undefined : this.handle(msg, subject)) });
  }

  /** Serve the files of `m`, found under `base` (the directory holding its root: for `/m/grok-1-tiny`, `/m`). */
  add(base: string, m: WeightManifest): void {
    for (const f of m.files) this.files.set(key(m.root, f.path, f.sha256), { path: manifestFilePath(base, m, f), size: f.size });
  }

  private async handle(msg: Msg, subject: string): Promise<void> {
    let req: ChunkRequest;
    try {
      req = decodeJson(chunkRequestSchema, msg.data, subject);
    } catch (e) {
      return this.fail(msg, (e as Error).message);
    }
    const f = this.files.get(key(req.root, req.path, req.sha256));
    if (!f) return this.fail(msg, `not served: ${req.root}/${req.path} (sha256 ${req.sha256.slice(0, 12)}…); the coordinator's model changed?`);
    if (req.offset > f.size) return this.fail(msg, `offset ${req.offset} is past the end of ${req.root}/${req.path} (${f.size} bytes)`);
    const max = Math.max(1024, (this.nc.info?.max_payload ?? 1 << 20) - 4096);
    const length = Math.min(req.length, max, f.size - req.offset);
    try {
      let h = this.handles.get(f.path);
      if (!h) this.handles.set(f.path, (h = open(f.path, "r")));
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await (await h).read(buf, 0, length, req.offset);
      const data = buf.subarray(0, bytesRead);
      const hd = headers();
      hd.set("Moe-Crc32", String(crc32(data)));
      msg.respond(data, { headers: hd });
      this.stats.chunks++;
      this.stats.bytes += bytesRead;
    } catch (e) {
      this.fail(msg, `cannot read ${f.path}: ${(e as Error).message}`);
    }
  }

  private fail(msg: Msg, error: string): void {
    this.stats.errors++;
    this.logger?.warn({ error }, "weight chunk request refused");
    const hd = headers();
    hd.set("Moe-Error", error.slice(0, 1000));
    msg.respond(new Uint8Array(0), { headers: hd });
  }

  async close(): Promise<void> {
    this.sub.unsubscribe();
    for (const h of this.handles.values()) await (await h.catch(() => undefined))?.close();
    this.handles.clear();
  }
}

function key(root: string, path: string, sha256: string): string {
  return `${root}\0${path}\0${sha256}`;
}

/** Download progress, all files of one fetch together. */
export interface FetchProgress {
  /** File being fetched (root/path). */
  readonly file: string;
  /** Bytes on disk so far (resumed bytes included) / to hold in the end. */
  readonly bytes: number;
  readonly total: number;
  /** Bytes received per second over this fetch. */
  readonly bytesPerSecond: number;
}

/** Options of {@link fetchFiles}. */
export interface FetchOptions {
  readonly subject: string;
  /** Bytes per chunk (clamped to the server's max payload). Default 512 KiB. */
  readonly chunkBytes?: number;
  /** Chunk requests in flight. Default 8. */
  readonly window?: number;
  /** Wait for one chunk, ms. Default 10000. */
  readonly requestTimeoutMs?: number;
  /** Give up on a chunk after this long without progress, ms (the connection may come back). Default 120000. */
  readonly stallTimeoutMs?: number;
  readonly onProgress?: (p: FetchProgress) => void;
  readonly signal?: AbortSignal;
  readonly cache: ChecksumCache;
  readonly logger?: Logger;
}

/** What a fetch did. */
export interface FetchResult {
  /** Bytes received over the network (resumed bytes not counted). */
  readonly bytesReceived: number;
  /** Bytes that were already there in partial files. */
  readonly bytesResumed: number;
  readonly seconds: number;
  readonly files: number;
}

/**
 * Fetch `files` of manifest `m` into `base` (the root's parent directory) from the server on `o.subject`.
 * @throws WeightTransferError when a file cannot be completed or its checksum is wrong; AbortError on abort
 */
export async function fetchFiles(nc: NatsConnection, base: string, m: WeightManifest, files: readonly WeightFile[], o: FetchOptions): Promise<FetchResult> {
  const t0 = performance.now();
  const total = files.reduce((a, f) => a + f.size, 0);
  let done = 0;
  let received = 0;
  let resumed = 0;
  for (const f of files) {
    const target = manifestFilePath(base, m, f);
    const r = await fetchOne(nc, m, f, target, o, (bytes, fresh) => {
      received += fresh;
      o.onProgress?.({ file: `${m.root}/${f.path}`, bytes: done + bytes, total, bytesPerSecond: received / Math.max(1e-3, (performance.now() - t0) / 1000) });
    });
    resumed += r.resumed;
    done += f.size;
  }
  return { bytesReceived: received, bytesResumed: resumed, seconds: (performance.now() - t0) / 1000, files: files.length };
}

interface PartialMeta {
  sha256: string;
  size: number;
  /** Bytes [0, done) are written and checked. */
  done: number;
}

/** Fetch one file into `target` (through `target.partial`), resuming a partial download of the same content. */
async function fetchOne(nc: NatsConnection, m: WeightManifest, f: WeightFile, target: string, o: FetchOptions, progress: (bytes: number, fresh: number) => void): Promise<{ resumed: number }> {
  mkdirSync(dirname(target), { recursive: true });
  const part = `${target}.partial`;
  const metaFile = `${part}.json`;
  let start = 0;
  try {
    const meta = JSON.parse(readFileSync(metaFile, "utf8")) as PartialMeta;
    if (meta.sha256 === f.sha256 && meta.size === f.size && existsSync(part) && statSync(part).size >= meta.done) start = meta.done;
  } catch {
    start = 0; // no usable partial download
  }
  if (start === 0) rmSync(part, { force: true });
  const fh = await open(part, existsSync(part) ? "r+" : "w");
  const chunk = Math.max(1024, Math.min(o.chunkBytes ?? DEFAULT_CHUNK_BYTES, (nc.info?.max_payload ?? 1 << 20) - 4096));
  const window = o.window ?? 8;
  const name = `${m.root}/${f.path}`;
  const doneChunks = new Set<number>();
  let contiguous = start;
  let lastSaved = performance.now();
  const save = (): void => writeJsonAtomic(metaFile, { sha256: f.sha256, size: f.size, done: contiguous } satisfies PartialMeta);
  progress(start, 0);
  try {
    let next = start;
    const worker = async (): Promise<void> => {
      while (next < f.size) {
        const offset = next;
        const length = Math.min(chunk, f.size - offset);
        next += length;
        const data = await requestChunk(nc, { root: m.root, path: f.path, sha256: f.sha256, offset, length }, name, o);
        await fh.write(data, 0, data.length, offset);
        doneChunks.add(offset);
        while (doneChunks.has(contiguous)) {
          doneChunks.delete(contiguous);
          contiguous = Math.min(f.size, contiguous + chunk);
        }
        progress(contiguous, data.length);
        if (performance.now() - lastSaved > 1000) {
          await fh.datasync();
          save();
          lastSaved = performance.now();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(window, Math.ceil((f.size - start) / chunk))) }, worker));
    await fh.datasync();
  } catch (e) {
    await fh.datasync().catch(() => undefined);
    if (contiguous > start) save();
    throw e;
  } finally {
    await fh.close();
  }
  const sha = await sha256File(part);
  if (sha !== f.sha256) {
    rmSync(part, { force: true });
    rmSync(metaFile, { force: true });
    throw new WeightTransferError(`${name}: the downloaded file's SHA-256 is ${sha}, the coordinator's is ${f.sha256}; the partial file was removed`, {
      file: target,
      fix: "start the node again to download it afresh; if it repeats, the coordinator's file changed while it was being sent",
    });
  }
  renameSync(part, target);
  rmSync(metaFile, { force: true });
  o.cache.remember(target, f.sha256);
  return { resumed: start };
}

/** One chunk, retried (with back-off) until it arrives intact or no progress was possible for `stallTimeoutMs`. */
async function requestChunk(nc: NatsConnection, req: ChunkRequest, name: string, o: FetchOptions): Promise<Uint8Array> {
  const until = Date.now() + (o.stallTimeoutMs ?? 120_000);
  let wait = 100;
  let lastError = "";
  for (;;) {
    if (o.signal?.aborted) throw o.signal.reason ?? new Error("aborted");
    try {
      const reply = await nc.request(o.subject, encodeJson(req), { timeout: o.requestTimeoutMs ?? 10_000 });
      const err = reply.headers?.get("Moe-Error");
      if (err) throw new WeightTransferError(`${name}: the coordinator refused chunk @${req.offset}: ${err}`, { file: name });
      const crc = Number(reply.headers?.get("Moe-Crc32") ?? NaN);
      if (reply.data.length !== req.length) lastError = `chunk @${req.offset}: ${reply.data.length} bytes for ${req.length} asked`;
      else if (crc32(reply.data) !== crc) lastError = `chunk @${req.offset}: CRC-32 mismatch (corrupted in transit)`;
      else return reply.data;
      o.logger?.warn({ file: name, error: lastError }, "bad chunk; asking again");
    } catch (e) {
      if (e instanceof WeightTransferError) throw e;
      lastError = (e as Error).message;
      o.logger?.debug({ file: name, offset: req.offset, error: lastError }, "chunk request failed; retrying");
    }
    if (Date.now() > until)
      throw new WeightTransferError(`${name}: no progress for ${(o.stallTimeoutMs ?? 120_000) / 1000} s at byte ${req.offset}: ${lastError}`, {
        file: name,
        fix: "check that `moe up` (the coordinator) is running and reachable over NATS; the download resumes where it stopped",
      });
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(2000, wait * 2);
  }
}
