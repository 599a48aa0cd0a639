/**
 * CURVE keys of a cluster: generation (`moe keys`), key files, loading, and
 * the socket options that turn CURVE on for servers and clients.
 *
 * A cluster has one server keypair (every serving ROUTER uses it) and one
 * client keypair (every calling DEALER uses it). Servers accept only clients
 * whose public key is authorized (ZAP, see `zap.ts`): the cluster's client
 * key plus any `authorized/*.key` public certificates. Files use the czmq /
 * pyzmq certificate format, Z85 keys, mode 0600:
 *
 * ```
 * DIR/server.key          public certificate of the servers
 * DIR/server.key_secret   public + secret key of the servers
 * DIR/client.key          public certificate of the clients
 * DIR/client.key_secret   public + secret key of the clients
 * DIR/authorized/*.key    optional further client public certificates
 * ```
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as zmq from "zeromq";
import { CurveConfigError, KeyFileError } from "./errors.js";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
const DECODE = new Map([...ALPHABET].map((c, i) => [c, i]));

/** Z85-encode bytes (length a multiple of 4), per ZeroMQ RFC 32. */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RangeError(`Z85 input length ${bytes.length} is not a multiple of 4`);
  let out = "";
  for (let i = 0; i < bytes.length; i += 4) {
    let v = ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
    let chunk = "";
    for (let j = 0; j < 5; j++) {
      chunk = ALPHABET[v % 85] + chunk;
      v = Math.floor(v / 85);
    }
    out += chunk;
  }
  return out;
}

/** Decode Z85 text (length a multiple of 5), or null when it is not valid Z85. */
export function z85Decode(text: string): Uint8Array | null {
  if (text.length % 5 !== 0) return null;
  const out = new Uint8Array((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let v = 0;
    for (let j = 0; j < 5; j++) {
      const d = DECODE.get(text[i + j]);
      if (d === undefined) return null;
      v = v * 85 + d;
    }
    if (v > 0xffffffff) return null;
    const o = (i / 5) * 4;
    out[o] = v >>> 24;
    out[o + 1] = (v >>> 16) & 0xff;
    out[o + 2] = (v >>> 8) & 0xff;
    out[o + 3] = v & 0xff;
  }
  return out;
}

/** A CURVE keypair, both keys 40-character Z85 text. */
export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

/** The keys a cluster process needs. */
export interface ClusterKeys {
  server: CurveKeyPair;
  client: CurveKeyPair;
  /** Client public keys (Z85) that servers accept. */
  authorizedClients: string[];
  /** Directory they were loaded from, if any. */
  dir?: string;
}

/** CURVE options of a serving (ROUTER) socket. */
export interface CurveServerOptions {
  /** The servers' keypair. */
  server: CurveKeyPair;
  /** Client public keys (Z85) accepted; every other client is refused by ZAP. */
  authorizedClients: readonly string[];
  /** ZAP domain of this server (default `moe`). */
  domain?: string;
}

/** CURVE options of a calling (DEALER) socket. */
export interface CurveClientOptions {
  /** The servers' public key (Z85). */
  serverKey: string;
  /** This client's keypair. */
  client: CurveKeyPair;
}

/** The server side of the cluster's keys. */
export function serverCurve(keys: ClusterKeys, domain?: string): CurveServerOptions {
  return { server: keys.server, authorizedClients: keys.authorizedClients, domain };
}

/** The client side of the cluster's keys. */
export function clientCurve(keys: ClusterKeys): CurveClientOptions {
  return { serverKey: keys.server.publicKey, client: keys.client };
}

/** Fail unless this libzmq was built with CURVE. */
export function requireCurve(): void {
  if (!zmq.capability.curve) {
    throw new CurveConfigError("this build of libzmq has no CURVE support", { fix: "install a zeromq build with libsodium / tweetnacl (the npm zeromq prebuilds have it)" });
  }
}

/** A new random keypair (libzmq's generator). */
export function newKeyPair(): CurveKeyPair {
  requireCurve();
  return zmq.curveKeyPair();
}

/** True when `key` is 40 characters of Z85 (32 bytes). */
export function isZ85Key(key: string): boolean {
  return key.length === 40 && z85Decode(key) !== null;
}

const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/** The public key (Z85) that belongs to a secret key (Z85): CurveZMQ keys are X25519 keys. */
export function publicKeyOf(secretKey: string): string {
  const raw = z85Decode(secretKey);
  if (raw === null || raw.length !== 32) throw new RangeError("secret key is not 40 characters of Z85");
  const priv = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: "der", type: "pkcs8" });
  const spki = createPublicKey(priv).export({ format: "der", type: "spki" });
  return z85Encode(new Uint8Array(spki.subarray(spki.length - 32)));
}

function certificate(pair: CurveKeyPair, secret: boolean, name: string): string {
  const lines = [
    `#   ****  Generated on ${new Date().toISOString()} by moe keys  ****`,
    secret ? "#   ZeroMQ CURVE **Secret** Certificate" : "#   ZeroMQ CURVE Public Certificate",
    secret ? "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions." : "#   Exchange securely, or use a secure mechanism to verify the contents",
    "#   of this file after exchange. Store public certificates in your home",
    "#   directory, in the .curve subdirectory.",
    "",
    "metadata",
    `    name = "${name}"`,
    "curve",
    `    public-key = "${pair.publicKey}"`,
  ];
  if (secret) lines.push(`    secret-key = "${pair.secretKey}"`);
  return lines.join("\n") + "\n";
}

/** Names of the files `generateClusterKeys` writes, relative to the directory. */
export const KEY_FILES = ["server.key", "server.key_secret", "client.key", "client.key_secret"] as const;

/**
 * Generate the cluster's server and client keypairs and write them to `dir`
 * (created with mode 0700; files mode 0600).
 * @param options.force overwrite existing key files (default: refuse)
 * @returns the keys, as `loadClusterKeys(dir)` would return them
 * @throws KeyFileError when key files exist and `force` is not set
 */
export function generateClusterKeys(dir: string, options: { force?: boolean } = {}): ClusterKeys {
  requireCurve();
  const existing = KEY_FILES.filter((f) => existsSync(join(dir, f)));
  if (existing.length > 0 && options.force !== true) {
    throw new KeyFileError(`key files already exist in ${dir}: ${existing.join(", ")}`, { file: join(dir, existing[0]), fix: "pass --force to replace them (every host then needs the new keys)" });
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const server = newKeyPair();
  const client = newKeyPair();
  const write = (file: string, text: string): void => {
    const path = join(dir, file);
    writeFileSync(path, text, { mode: 0o600 });
    chmodSync(path, 0o600); // an existing file keeps its mode on write
  };
  write("server.key", certificate(server, false, "server"));
  write("server.key_secret", certificate(server, true, "server"));
  write("client.key", certificate(client, false, "client"));
  write("client.key_secret", certificate(client, true, "client"));
  return { server, client, authorizedClients: [client.publicKey], dir };
}

/** Parse a czmq certificate; `secret` requires a secret key that matches the public key. */
export function readCertificate(path: string, secret: boolean): CurveKeyPair {
  const fix = "run `moe keys --out DIR` and copy DIR to every host";
  let text: string;
  try {
    if (secret && process.platform !== "win32" && (statSync(path).mode & 0o077) !== 0) {
      throw new KeyFileError(`secret key file ${path} is readable by group or others`, { file: path, fix: `chmod 600 ${path}` });
    }
    text = readFileSync(path, "utf8");
  } catch (cause) {
    if (cause instanceof KeyFileError) throw cause;
    throw new KeyFileError(`cannot read key file ${path}: ${(cause as Error).message}`, { file: path, fix, cause });
  }
  const field = (name: string): string | undefined => new RegExp(`^\\s*${name}\\s*=\\s*"([^"]*)"\\s*$`, "m").exec(text)?.[1];
  const publicKey = field("public-key");
  if (publicKey === undefined || !isZ85Key(publicKey)) throw new KeyFileError(`${path} has no valid public-key (40 Z85 characters)`, { file: path, field: "public-key", fix });
  if (!secret) return { publicKey, secretKey: "" };
  const secretKey = field("secret-key");
  if (secretKey === undefined || !isZ85Key(secretKey)) throw new KeyFileError(`${path} has no valid secret-key (40 Z85 characters)`, { file: path, field: "secret-key", fix });
  if (publicKeyOf(secretKey) !== publicKey) throw new KeyFileError(`${path}: public-key does not belong to secret-key`, { file: path, field: "public-key", fix });
  return { publicKey, secretKey };
}

/**
 * Load the keys that `generateClusterKeys` wrote.
 * @throws KeyFileError naming the file and the fix
 */
export function loadClusterKeys(dir: string): ClusterKeys {
  const server = readCertificate(join(dir, "server.key_secret"), true);
  const client = readCertificate(join(dir, "client.key_secret"), true);
  const authorizedClients = [client.publicKey];
  const extra = join(dir, "authorized");
  if (existsSync(extra)) {
    for (const f of readdirSync(extra).filter((n) => n.endsWith(".key")).sort()) {
      authorizedClients.push(readCertificate(join(extra, f), false).publicKey);
    }
  }
  return { server, client, authorizedClients, dir };
}
