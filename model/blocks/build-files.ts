/**
 * Large sessions are built from files: a graph's external initializers (MatMulNBits codes and scales) are
 * written to a private temporary directory next to the ModelProto and onnxruntime loads the model from
 * there. onnxruntime maps external data files into memory instead of copying them (it copies in-memory
 * external data), and the arrays the graph was built from can be freed before the session is built, so
 * while a large session pre-packs its weights the process holds the packed weights and the file pages of
 * the matrix being packed, not the JS arrays plus onnxruntime's copy of them. The files are removed once
 * the session is built (its mappings of the scales, which the kernel keeps, stay valid).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExternalInitializer } from "../onnx/builder.js";

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
    for (const e of external) writeFileSync(join(dir, e.path), e.data);
    const file = join(dir, "model.onnx");
    writeFileSync(file, model);
    return { model: file, dir };
  } catch {
    if (dir !== undefined) removeBuildFiles({ model: "", dir });
    return undefined;
  }
}

/** Remove a graph's files. */
export function removeBuildFiles(f: BuildFiles): void {
  rmSync(f.dir, { recursive: true, force: true });
}
