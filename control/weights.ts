/**
 * What a host must hold on its disk to run its part of a plan, independent
 * of the weight format: a manifest of files (relative paths, sizes, SHA-256
 * checksums) under one root — a model directory (`config.json`, weights,
 * `tokenizer.model`), a single GGUF file, or (once `moe model slice` exists)
 * a host's own part. Checksums are cached per file by size and mtime, so a
 * large model is hashed once.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, join, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { ControlError } from "./errors.js";
import { writeJsonAtomic } from "./files.js";

/** One file of a manifest. */
export interface WeightFile {
  /** Path under the manifest's root, `/`-separated, never absolute, never `..`. */
  readonly path: string;
  /** Bytes. */
  readonly size: number;
  /** SHA-256, lowercase hex. */
  readonly sha256: string;
}

/** The files a host needs, under one root (a directory or a single file). */
export interface WeightManifest {
  /** Base name of the root: a model directory's or a GGUF file's name. */
  readonly root: string;
  /** `dir`: the files live under `<root>/`; `file`: the root is the one file (path `""`). */
  readonly kind: "dir" | "file";
  readonly files: readonly WeightFile[];
  /**
   * The files are this host's parts of the model (`<host>.v<plan>.gguf`, control/host-parts.ts), opened together
   * from the root directory: the host keeps only these `*.gguf` there.
   */
  readonly parts?: boolean;
}

/** A manifest that is not usable (bad path, unreadable file). */
export class WeightManifestError extends ControlError {
  constructor(message: string, ctx: { file?: string; fix?: string; cause?: unknown } = {}) {
    super("WEIGHT_MANIFEST", message, ctx);
  }
}

const safeName = z.string().min(1).max(255).refine((s) => s !== "." && s !== ".." && !/[\\/\0]/.test(s), "a plain file or directory name");
const safePath = z
  .string()
  .max(4096)
  .refine((s) => !s.startsWith("/") && !s.includes("\\") && !s.includes("\0") && s.split("/").every((seg) => seg !== ".." && seg !== "."), "a relative path without '..'");

/** zod schema of a manifest received over the network (paths checked: nothing escapes the root). */
export const manifestSchema = z.strictObject({
  root: safeName,
  kind: z.enum(["dir", "file"]),
  files: z.array(z.strictObject({ path: safePath, size: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
  parts: z.boolean().optional(),
});

/** Where a manifest's file lives under `base` (the root directory, or the root file itself). */
export function manifestFilePath(base: string, m: WeightManifest, f: WeightFile): string {
  return m.kind === "file" ? join(base, m.root) : join(base, m.root, ...f.path.split("/"));
}

/** The model path (directory or file) a manifest gives under `base`. */
export function manifestRootPath(base: string, m: WeightManifest): string {
  return join(base, m.root);
}

/** Total bytes of a manifest's files. */
export function manifestBytes(m: WeightManifest): number {
  return m.files.reduce((a, f) => a + f.size, 0);
}

/** SHA-256 of a file (streamed), lowercase hex. */
export function sha256File(file: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash("sha256");
    createReadStream(file, { highWaterMark: 1 << 20 })
      .on("data", (b) => h.update(b))
      .on("error", rej)
      .on("end", () => res(h.digest("hex")));
  });
}

interface CacheEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** SHA-256 per absolute path, valid while size and mtime stay; kept in a JSON file. */
export class ChecksumCache {
  private readonly entries: Record<string, CacheEntry>;

  constructor(private readonly file: string | undefined) {
    let e: Record<string, CacheEntry> = {};
    try {
      if (file && existsSync(file)) e = JSON.parse(readFileSync(file, "utf8")) as Record<string, CacheEntry>;
    } catch {
      e = {}; // a broken cache is rebuilt
    }
    this.entries = e;
  }

  /** The file's SHA-256 (hashing it when the cache does not know this size and mtime). */
  async sha256(path: string): Promise<string> {
    const abs = resolve(path);
    const st = statSync(abs);
    const hit = this.entries[abs];
    if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
    const sha256 = await sha256File(abs);
    this.remember(abs, sha256);
    return sha256;
  }

  /** Record a checksum just verified (e.g. after a download). */
  remember(path: string, sha256: string): void {
    const abs = resolve(path);
    const st = statSync(abs);
    this.entries[abs] = { size: st.size, mtimeMs: st.mtimeMs, sha256 };
    if (this.file) writeJsonAtomic(this.file, this.entries);
  }
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith(".")) continue; // caches, partial downloads
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/**
 * The manifest of a model directory (every regular file under it, hidden ones excepted) or of a single file.
 * @throws WeightManifestError when the path is missing
 */
export async function scanManifest(modelPath: string, cache = new ChecksumCache(undefined)): Promise<WeightManifest> {
  const abs = resolve(modelPath);
  if (!existsSync(abs)) throw new WeightManifestError(`${abs}: no model here`, { file: abs, fix: "pass an existing model directory or .gguf file" });
  if (statSync(abs).isFile()) return { root: basename(abs), kind: "file", files: [{ path: "", size: statSync(abs).size, sha256: await cache.sha256(abs) }] };
  const files: WeightFile[] = [];
  for (const f of listFiles(abs)) files.push({ path: relative(abs, f).split(sep).join("/"), size: statSync(f).size, sha256: await cache.sha256(f) });
  return { root: basename(abs), kind: "dir", files };
}

/**
 * For a manifest of parts: remove the `*.gguf` under its root that it does not list (parts of earlier plans
 * the host no longer needs), so that the root opens as exactly these parts. @returns the files removed
 */
export function pruneParts(base: string, m: WeightManifest): string[] {
  const root = manifestRootPath(base, m);
  if (!m.parts || m.kind !== "dir" || !existsSync(root)) return [];
  const keep = new Set(m.files.map((f) => f.path));
  const gone = readdirSync(root).filter((f) => f.toLowerCase().endsWith(".gguf") && !keep.has(f));
  for (const f of gone) rmSync(join(root, f), { force: true });
  return gone;
}

/** Files of `m` that `base` lacks or holds with another size or checksum. */
export async function missingFiles(base: string, m: WeightManifest, cache: ChecksumCache): Promise<WeightFile[]> {
  const out: WeightFile[] = [];
  for (const f of m.files) {
    const p = manifestFilePath(base, m, f);
    if (!existsSync(p) || statSync(p).size !== f.size || (await cache.sha256(p)) !== f.sha256) out.push(f);
  }
  return out;
}
