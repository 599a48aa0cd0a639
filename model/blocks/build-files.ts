/**
 * Large sessions are built from files: a graph's MatMulNBits codes (its uint8 external initializers, see
 * {@link inFile}) are written to a private temporary directory next to the ModelProto and onnxruntime loads
 * the model from there. onnxruntime maps external data files into memory instead of copying them (it copies in-memory
 * external data), and the arrays the graph was built from can be freed before the session is built, so
 * while a large session pre-packs its weights the process holds the packed weights and the file pages of
 * the matrix being packed, not the JS arrays plus onnxruntime's copy of them. The files are removed once
 * the session is built.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Elem, embedExternal, type ExternalInitializer } from "../onnx/index.js";

/** A graph's files: the model to load by path, and the directory to remove afterwards. */
export interface BuildFiles {
  readonly model: string;
  readonly dir: string;
}

/**
 * Write `model` and its external initializers under a new directory of `parent` (default `$MOE_BUILD_DIR`,
 * else the OS temporary directory). Returns undefined when they cannot be written (no space, read-only, no
 * such directory): the caller then builds from memory as before.
 */
export function writeBuildFiles(model: Uint8Array, external: readonly ExternalInitializer[], parent?: string): BuildFiles | undefined {
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(parent ?? process.env.MOE_BUILD_DIR ?? tmpdir(), "moe-build-"));
    for (const e of external) if (inFile(e)) writeFileSync(join(dir, e.path), e.data);
    const file = join(dir, "model.onnx");
    const kept = external.filter((e) => !inFile(e));
    writeFileSync(file, kept.length ? embedExternal(model, kept) : model);
    return { model: file, dir };
  } catch {
    if (dir !== undefined) removeBuildFiles({ model: "", dir });
    return undefined;
  }
}

/**
 * Whether an initializer goes to a file: the uint8 codes, which onnxruntime pre-packs and then releases. The
 * f32 scales, which it keeps beside the packed codes, are embedded in the ModelProto instead (onnxruntime
 * takes them into anonymous memory, on huge pages): kept as mapped file pages, decode at full width was
 * 8–10% slower.
 */
export function inFile(e: ExternalInitializer): boolean {
  return e.elem === Elem.UINT8;
}

/** Remove a graph's files. */
export function removeBuildFiles(f: BuildFiles): void {
  rmSync(f.dir, { recursive: true, force: true });
}
