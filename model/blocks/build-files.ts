/**
 * Large sessions are built from files: a graph's MatMulNBits codes (its uint8 external initializers, see
 * {@link inFile}) are written to a private temporary directory next to the ModelProto and onnxruntime loads
 * the model from there. onnxruntime maps external data files into memory instead of copying them (it copies in-memory
 * external data), and the arrays the graph was built from can be freed before the session is built, so
 * while a large session pre-packs its weights the process holds the packed weights and the file pages of
 * the matrix being packed, not the JS arrays plus onnxruntime's copy of them. The files are removed once
 * the session is built.
 *
 * Where onnxruntime keeps a tensor it never reads again ({@link ExternalInitializer.packedOnly}: MatMulNBits'
 * f32 scales, copied into the packed weights on x86-64, see {@link packedScalesDroppable}), that tensor goes
 * to a file too and the file is truncated once the session is built ({@link dropPackedOnly}): its pages
 * leave the process (0.125 bytes per weight, 0.67 GiB for a full-width Grok-1 layer).
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Elem, embedExternal, type ExternalInitializer } from "../onnx/index.js";
import { ortVersionIn } from "./native-session.js";

/** onnxruntime-node versions whose MatMulNBits was checked to never read its scales after pre-packing on x86-64. */
export const PACKED_SCALES_CHECKED_ORT_VERSIONS: readonly string[] = ["1.30"];

/** A graph's files: the model to load by path, and the directory to remove afterwards. */
export interface BuildFiles {
  readonly model: string;
  readonly dir: string;
  /** Files of {@link ExternalInitializer.packedOnly} tensors, to truncate once the session is built. */
  readonly packedOnly: readonly string[];
}

/**
 * Write `model` and its external initializers under a new directory of `parent` (default `$MOE_BUILD_DIR`,
 * else the OS temporary directory). `dropPacked`: packed-only tensors go to files too (to be dropped after the
 * build), instead of being embedded. Returns undefined when they cannot be written (no space, read-only, no
 * such directory): the caller then builds from memory as before.
 */
export function writeBuildFiles(model: Uint8Array, external: readonly ExternalInitializer[], parent?: string, dropPacked = false): BuildFiles | undefined {
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(parent ?? process.env.MOE_BUILD_DIR ?? tmpdir(), "moe-build-"));
    const filed = (e: ExternalInitializer) => inFile(e) || (dropPacked && e.packedOnly === true);
    for (const e of external) if (filed(e)) writeFileSync(join(dir, e.path), e.data);
    const file = join(dir, "model.onnx");
    const kept = external.filter((e) => !filed(e));
    writeFileSync(file, kept.length ? embedExternal(model, kept) : model);
    return { model: file, dir, packedOnly: dropPacked ? external.filter((e) => e.packedOnly === true).map((e) => join(dir!, e.path)) : [] };
  } catch {
    if (dir !== undefined) removeBuildFiles({ model: "", dir, packedOnly: [] });
    return undefined;
  }
}

/**
 * Whether an initializer goes to a file: the uint8 codes, which onnxruntime pre-packs and then releases. The
 * f32 scales, which it keeps beside the packed codes, are embedded in the ModelProto unless they are dropped
 * ({@link writeBuildFiles}' `dropPacked`): kept as mapped file pages, they would stay resident.
 */
export function inFile(e: ExternalInitializer): boolean {
  return e.elem === Elem.UINT8;
}

/**
 * Truncate the files of packed-only tensors of a built session to 0 bytes: Linux removes their pages from
 * the page cache and from onnxruntime's mapping of them (which it keeps, unread, for the session's life).
 * Only for tensors the session never reads again ({@link packedScalesDroppable}): a read would fault (SIGBUS).
 */
export function dropPackedOnly(f: BuildFiles): void {
  for (const p of f.packedOnly) truncateSync(p, 0);
}

/** Remove a graph's files. */
export function removeBuildFiles(f: BuildFiles): void {
  rmSync(f.dir, { recursive: true, force: true });
}

let droppable: boolean | undefined;

/**
 * Whether this host's onnxruntime never reads MatMulNBits' scales once a session is built, so that
 * {@link dropPackedOnly} may drop them: Linux on x86-64 with AVX2 (MLAS' 8-bit int8-activation kernels
 * exist there: pre-packing copies the scales into the packed weights — and the block sums, −128 × scale —
 * and every run reads those, while onnxruntime 1.30's MatMulNBits marks the scales input "not packed" and
 * keeps it). Elsewhere (ARM64 packs and frees them itself; without AVX2 the kernel dequantizes from the
 * scales at every run) they are kept, and with an onnxruntime-node not in
 * {@link PACKED_SCALES_CHECKED_ORT_VERSIONS}. `MOE_DROP_PACKED_SCALES=0` turns it off.
 */
export function packedScalesDroppable(): boolean {
  if (process.env.MOE_DROP_PACKED_SCALES === "0") return false;
  if (droppable === undefined) {
    droppable = false;
    if (ortVersionIn(PACKED_SCALES_CHECKED_ORT_VERSIONS) && process.platform === "linux" && process.arch === "x64") {
      try {
        droppable = /^flags\s*:.*\bavx2\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));
      } catch {
        droppable = false;
      }
    }
  }
  return droppable;
}
