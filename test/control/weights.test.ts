/**
 * Weights over NATS between two directories that share nothing, through a
 * real nats-server: the files arrive byte for byte with their checksums; a
 * download stopped halfway resumes where it stopped; a chunk corrupted in
 * transit is asked for again; the transfer survives the NATS server going
 * away and coming back; the server never serves a file outside its manifest.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { connect, headers, type NatsConnection } from "nats";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ChecksumCache, fetchFiles, missingFiles, scanManifest, WeightServer, WeightTransferError, type FetchProgress, type NatsServerProcess, type WeightManifest } from "../../control/index.js";
import { tempDir } from "../cluster/helpers.js";
import { NATS_MISSING, natsServer } from "./nats.js";

describe.skipIf(NATS_MISSING !== undefined)("weights over NATS", () => {
  const tmp = tempDir("moe-weights-");
  const src = join(tmp.dir, "coordinator");
  let nats: NatsServerProcess;
  let serverConn: NatsConnection;
  let clientConn: NatsConnection;
  let server: WeightServer;
  let manifest: WeightManifest;
  const subject = "t.weights";
  let n = 0;

  beforeAll(async () => {
    mkdirSync(join(src, "toy-model", "sub"), { recursive: true });
    writeFileSync(join(src, "toy-model", "model.bin"), randomBytes(5 * 1024 * 1024 + 12345));
    writeFileSync(join(src, "toy-model", "config.json"), JSON.stringify({ hello: "world" }));
    writeFileSync(join(src, "toy-model", "sub", "empty.txt"), "");
    writeFileSync(join(src, "toy-model", ".hidden"), "not part of the model");
    manifest = await scanManifest(join(src, "toy-model"));
    nats = await natsServer();
    serverConn = await connect({ servers: nats.url, reconnectTimeWait: 200, maxReconnectAttempts: -1 });
    clientConn = await connect({ servers: nats.url, reconnectTimeWait: 200, maxReconnectAttempts: -1 });
    server = new WeightServer(serverConn, subject);
    server.add(src, manifest);
  });

  afterAll(async () => {
    await server?.close();
    await clientConn?.close();
    await serverConn?.close();
    await nats?.stop();
    tmp.cleanup();
  });

  const dest = () => join(tmp.dir, `node-${++n}`);
  let extra: NatsConnection[] = [];
  afterEach(async () => {
    for (const c of extra) await c.close();
    extra = [];
  });

  it("lists the model's files with sizes and SHA-256, hidden files left out", () => {
    expect(manifest.root).toBe("toy-model");
    expect(manifest.files.map((f) => f.path)).toEqual(["config.json", "model.bin", "sub/empty.txt"]);
    expect(manifest.files[1]!.size).toBe(5 * 1024 * 1024 + 12345);
    expect(manifest.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256))).toBe(true);
  });

  it("fetches every file a node lacks, byte for byte, with progress; then nothing is missing", async () => {
    const d = dest();
    const cache = new ChecksumCache(join(d, ".moe-checksums.json"));
    mkdirSync(d, { recursive: true });
    const todo = await missingFiles(d, manifest, cache);
    expect(todo.length).toBe(3);
    const seen: FetchProgress[] = [];
    const r = await fetchFiles(clientConn, d, manifest, todo, { subject, cache, chunkBytes: 256 * 1024, onProgress: (p) => seen.push(p) });
    for (const f of manifest.files) expect(readFileSync(join(d, "toy-model", f.path)).equals(readFileSync(join(src, "toy-model", f.path)))).toBe(true);
    expect(r.bytesReceived).toBe(manifest.files.reduce((a, f) => a + f.size, 0));
    expect(seen.at(-1)!.bytes).toBe(seen.at(-1)!.total);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.bytes).toBeGreaterThanOrEqual(seen[i - 1]!.bytes);
    expect(await missingFiles(d, manifest, cache)).toEqual([]);
    // a changed file is found by its checksum, even at the same size
    const p = join(d, "toy-model", "config.json");
    writeFileSync(p, JSON.stringify({ hello: "World" }));
    expect((await missingFiles(d, manifest, new ChecksumCache(undefined))).map((f) => f.path)).toEqual(["config.json"]);
  });

  it("resumes a download stopped halfway: only the rest crosses the network", async () => {
    const d = dest();
    const cache = new ChecksumCache(undefined);
    const big = manifest.files.find((f) => f.path === "model.bin")!;
    const abort = new AbortController();
    const first = await fetchFiles(clientConn, d, manifest, [big], {
      subject,
      cache,
      chunkBytes: 128 * 1024,
      window: 2,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.bytes > big.size / 2) abort.abort(new Error("stopped by the test"));
      },
    }).catch((e: unknown) => e);
    expect((first as Error).message).toBe("stopped by the test");
    const target = join(d, "toy-model", "model.bin");
    expect(existsSync(target)).toBe(false);
    const meta = JSON.parse(readFileSync(`${target}.partial.json`, "utf8")) as { done: number };
    expect(meta.done).toBeGreaterThan(big.size / 2 - 128 * 1024 * 3);
    const second = await fetchFiles(clientConn, d, manifest, [big], { subject, cache, chunkBytes: 128 * 1024 });
    expect(second.bytesResumed).toBe(meta.done);
    expect(second.bytesReceived).toBe(big.size - meta.done);
    expect(readFileSync(target).equals(readFileSync(join(src, "toy-model", "model.bin")))).toBe(true);
    expect(existsSync(`${target}.partial`)).toBe(false);
  });

  it("asks again for a chunk corrupted in transit", async () => {
    // a relay that flips one byte of the first reply it passes on (a fault a real server cannot produce on demand)
    const relayConn = await connect({ servers: nats.url });
    extra.push(relayConn);
    let corrupted = 0;
    relayConn.subscribe("t.flaky", {
      callback: (_e, msg) =>
        void relayConn.request(subject, msg.data, { timeout: 5000 }).then((r) => {
          const data = Uint8Array.from(r.data);
          const hd = headers();
          hd.set("Moe-Crc32", r.headers!.get("Moe-Crc32"));
          if (corrupted++ === 0) data[17] ^= 0xff;
          msg.respond(data, { headers: hd });
        }),
    });
    await relayConn.flush();
    const d = dest();
    const big = manifest.files.find((f) => f.path === "model.bin")!;
    const r = await fetchFiles(clientConn, d, manifest, [big], { subject: "t.flaky", cache: new ChecksumCache(undefined), chunkBytes: 512 * 1024 });
    expect(corrupted).toBe(Math.ceil(big.size / (512 * 1024)) + 1);
    expect(r.bytesReceived).toBe(big.size);
    expect(crc32(readFileSync(join(d, "toy-model", "model.bin")))).toBe(crc32(readFileSync(join(src, "toy-model", "model.bin"))));
  });

  it("refuses files outside its manifests, with a clear error", async () => {
    const d = dest();
    const evil: WeightManifest = { root: "toy-model", kind: "dir", files: [{ path: ".hidden", size: statSync(join(src, "toy-model", ".hidden")).size, sha256: "0".repeat(64) }] };
    const err = await fetchFiles(clientConn, d, evil, evil.files, { subject, cache: new ChecksumCache(undefined) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeightTransferError);
    expect((err as Error).message).toMatch(/toy-model\/\.hidden: the coordinator refused chunk @0: not served/);
  });

  it("survives the NATS server going away mid-transfer and coming back", async () => {
    const d = dest();
    const big = manifest.files.find((f) => f.path === "model.bin")!;
    let restarted: Promise<void> | undefined;
    const r = await fetchFiles(clientConn, d, manifest, [big], {
      subject,
      cache: new ChecksumCache(undefined),
      chunkBytes: 64 * 1024,
      window: 1,
      requestTimeoutMs: 2000,
      onProgress: (p) => {
        if (!restarted && p.bytes > big.size / 3)
          restarted = (async () => {
            await nats.stop();
            await new Promise((res) => setTimeout(res, 500));
            nats = await natsServer("127.0.0.1", nats.port);
          })();
      },
    });
    expect(restarted).toBeDefined();
    await restarted;
    expect(r.bytesReceived).toBe(big.size);
    expect(readFileSync(join(d, "toy-model", "model.bin")).equals(readFileSync(join(src, "toy-model", "model.bin")))).toBe(true);
  });
});
