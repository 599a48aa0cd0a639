import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { register as registerKeys } from "../../cli/keys.js";
import {
  DeadlineExceededError,
  HandshakeFailedError,
  KEY_FILES,
  KeyFileError,
  RpcClient,
  RpcServer,
  clientCurve,
  generateClusterKeys,
  loadClusterKeys,
  newKeyPair,
  publicKeyOf,
  serverCurve,
  type ClusterKeys,
} from "../../transport/index.js";
import { Closer, TRANSPORTS, address, sample, sleep } from "./helpers.js";

const dModel = 8;
const closer = new Closer();
const dirs: string[] = [];
afterEach(() => closer.closeAll());
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "moe-keys-"));
  dirs.push(d);
  return d;
}

describe("cluster keys", () => {
  it("are written as four files of mode 0600 and load back", () => {
    const dir = join(tempDir(), "keys");
    const keys = generateClusterKeys(dir);
    for (const f of KEY_FILES) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const loaded = loadClusterKeys(dir);
    expect(loaded.server).toEqual(keys.server);
    expect(loaded.client).toEqual(keys.client);
    expect(loaded.authorizedClients).toEqual([keys.client.publicKey]);
    expect(publicKeyOf(keys.server.secretKey)).toBe(keys.server.publicKey);
    expect(readFileSync(join(dir, "server.key"), "utf8")).not.toContain(keys.server.secretKey);
  });

  it("are not overwritten without force", () => {
    const dir = tempDir();
    const first = generateClusterKeys(dir);
    expect(() => generateClusterKeys(dir)).toThrow(KeyFileError);
    const second = generateClusterKeys(dir, { force: true });
    expect(second.server.publicKey).not.toBe(first.server.publicKey);
  });

  it("refuse secret files readable by others, malformed keys, and keys that do not match", () => {
    const dir = tempDir();
    generateClusterKeys(dir);
    const secret = join(dir, "server.key_secret");
    chmodSync(secret, 0o644);
    expect(() => loadClusterKeys(dir)).toThrow(/chmod 600/);
    chmodSync(secret, 0o600);
    const text = readFileSync(secret, "utf8");
    writeFileSync(secret, text.replace(/secret-key = "[^"]*"/, 'secret-key = "not-a-key"'));
    expect(() => loadClusterKeys(dir)).toThrow(KeyFileError);
    // a replacer function: Z85 keys may hold "$&" or "$'", which a replacement string would expand
    const other = newKeyPair().secretKey;
    writeFileSync(secret, text.replace(/secret-key = "[^"]*"/, () => `secret-key = "${other}"`));
    expect(() => loadClusterKeys(dir)).toThrow(/does not belong/);
    expect(() => loadClusterKeys(join(dir, "missing"))).toThrow(KeyFileError);
  });

  it("accept extra authorized client certificates", () => {
    const dir = tempDir();
    generateClusterKeys(dir);
    const other = generateClusterKeys(join(dir, "other"));
    mkdirSync(join(dir, "authorized"));
    copyFileSync(join(dir, "other", "client.key"), join(dir, "authorized", "gateway.key"));
    expect(loadClusterKeys(dir).authorizedClients).toContain(other.client.publicKey);
  });

  it("`moe keys --out DIR` writes them", async () => {
    const dir = join(tempDir(), "cli");
    const program = new Command().exitOverride();
    registerKeys(program);
    const log = console.log;
    console.log = () => undefined;
    try {
      await program.parseAsync(["node", "moe", "keys", "--out", dir]);
    } finally {
      console.log = log;
    }
    expect(loadClusterKeys(dir).authorizedClients).toHaveLength(1);
  });
});

describe.each(TRANSPORTS)("CURVE over %s", (transport) => {
  async function curveServer(keys: ClusterKeys): Promise<RpcServer> {
    const srv = closer.add(await RpcServer.bind({ endpoint: address(transport), expect: { dModel }, curve: serverCurve(keys), name: "secure" }));
    void srv.serve((req) => (req.message.kind === "ping" ? { kind: "pong" } : { ...sample("moe.result", dModel), id: 0 }));
    return srv;
  }

  it("answers clients holding the cluster's keys", async () => {
    const keys = generateClusterKeys(tempDir());
    const srv = await curveServer(keys);
    const cli = closer.add(RpcClient.connect({ endpoint: srv.endpoint, expect: { dModel }, curve: clientCurve(keys) }));
    const reply = await cli.request(sample("moe.dispatch", dModel), { deadlineMs: 5000 });
    expect(reply.kind).toBe("moe.result");
    expect(srv.zapStats().accepted).toBeGreaterThanOrEqual(1);
  });

  it("gives no answer to, and takes no data from, clients without the keys; they fail at once naming the handshake", async () => {
    const keys = generateClusterKeys(tempDir());
    const srv = await curveServer(keys);
    const strangers = [
      // knows the server's public key but has its own keypair: refused by ZAP
      { name: "random keypair", curve: { serverKey: keys.server.publicKey, client: newKeyPair() }, says: /refused this client's CURVE key/ },
      // has the client keys but the wrong server key: the handshake fails
      { name: "wrong server key", curve: { serverKey: newKeyPair().publicKey, client: keys.client }, says: /handshake .* (broke off|failed)/ },
      // no CURVE at all: the NULL mechanism is refused
      { name: "plain", curve: undefined, says: /require(s)? CURVE/ },
    ];
    for (const s of strangers) {
      const cli = closer.add(RpcClient.connect({ endpoint: srv.endpoint, expect: { dModel }, curve: s.curve }));
      // the deadline is far: the refused handshake, not the deadline, ends the request
      const err = await cli.request(sample("moe.dispatch", dModel), { deadlineMs: 20_000 }).catch((e: unknown) => e);
      expect(err, s.name).toBeInstanceOf(HandshakeFailedError);
      expect((err as HandshakeFailedError).message, s.name).toMatch(s.says);
      expect((err as HandshakeFailedError).fix, s.name).toMatch(/keys/);
      expect(cli.metrics.peer(srv.endpoint).messagesIn, s.name).toBe(0);
      // and so does the next request, at once, while no handshake succeeds
      await expect(cli.request({ kind: "ping" }, { deadlineMs: 20_000 }), s.name).rejects.toBeInstanceOf(HandshakeFailedError);
    }
    if (transport === "tcp") {
      // raw bytes on the TCP port: a fake ZMTP greeting and garbage
      const port = Number(new URL(srv.endpoint.replace("tcp://", "http://")).port);
      const sock = connect(port, "127.0.0.1");
      sock.on("error", () => undefined);
      await new Promise<void>((r) => sock.once("connect", () => r()));
      sock.write(Buffer.concat([Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0]), Buffer.from("NULL"), Buffer.alloc(200, 7)]));
      await sleep(200);
      sock.destroy();
    }
    expect(srv.zapStats().denied).toBeGreaterThanOrEqual(1);
    const totals = srv.metrics.snapshot().totals;
    expect(totals.messagesIn).toBe(0);
    expect(totals.bytesIn).toBe(0);
    expect(totals.messagesOut).toBe(0);
    // and a cluster client is still served
    const good = closer.add(RpcClient.connect({ endpoint: srv.endpoint, expect: { dModel }, curve: clientCurve(keys) }));
    await expect(good.ping({ deadlineMs: 5000 })).resolves.toBeGreaterThan(0);
    expect(srv.metrics.snapshot().totals.messagesIn).toBe(1);
  });

  it("lets two CURVE servers share the process's ZAP handler, each with its own keys", async () => {
    const a = generateClusterKeys(tempDir());
    const b = generateClusterKeys(tempDir());
    const srvA = await curveServer(a);
    const srvB = closer.add(await RpcServer.bind({ endpoint: address(transport), expect: { dModel }, curve: serverCurve(b, "cluster-b") }));
    void srvB.serve(() => ({ kind: "pong" }));
    const aOnB = closer.add(RpcClient.connect({ endpoint: srvB.endpoint, expect: { dModel }, curve: { serverKey: b.server.publicKey, client: a.client } }));
    await expect(aOnB.ping({ deadlineMs: 20_000 })).rejects.toThrow(/refused this client's CURVE key/);
    const bOnB = closer.add(RpcClient.connect({ endpoint: srvB.endpoint, expect: { dModel }, curve: clientCurve(b) }));
    await expect(bOnB.ping({ deadlineMs: 5000 })).resolves.toBeGreaterThan(0);
    await srvA.close(); // releasing one registration keeps the handler for the other
    const bOnB2 = closer.add(RpcClient.connect({ endpoint: srvB.endpoint, expect: { dModel }, curve: clientCurve(b) }));
    await expect(bOnB2.ping({ deadlineMs: 5000 })).resolves.toBeGreaterThan(0);
  });
});

describe("CURVE server churn", () => {
  it("opening and closing CURVE servers while strangers knock does not crash libzmq (ZAP handler linger)", async () => {
    const keys = generateClusterKeys(tempDir());
    for (let i = 0; i < 40; i++) {
      const srv = await RpcServer.bind({ endpoint: address(i % 2 === 0 ? "tcp" : "ipc"), expect: { dModel }, curve: serverCurve(keys) });
      void srv.serve(() => ({ kind: "pong" }));
      const stranger = RpcClient.connect({ endpoint: srv.endpoint, expect: { dModel }, curve: { serverKey: keys.server.publicKey, client: newKeyPair() } });
      const member = RpcClient.connect({ endpoint: srv.endpoint, expect: { dModel }, curve: clientCurve(keys) });
      await stranger.ping({ deadlineMs: 20 }).catch(() => undefined);
      await member.ping({ deadlineMs: 5000 });
      await member.close();
      await stranger.close();
      await srv.close();
      if (i % 10 === 9) await sleep(300); // let the handler close and bind again
    }
  });
});
