/** Errors of the config room: a cluster file that cannot be read or does not validate. */
import { MoeError } from "../common/index.js";

/** Context of a {@link ConfigError}; every field optional. */
export interface ConfigErrorContext {
  /** The cluster file. */
  file?: string;
  /** Field path inside it, e.g. `hosts[2].memory`. */
  field?: string;
  /** 1-based line in `file`, when known. */
  line?: number;
  /** What to do about it, when known. */
  fix?: string;
  cause?: unknown;
}

/** A cluster file is unreadable, not YAML, or invalid: the message names the file, line and field. */
export class ConfigError extends MoeError {
  /** Always `CLUSTER_CONFIG`. */
  declare readonly code: "CLUSTER_CONFIG";
  declare readonly file?: string;
  declare readonly field?: string;
  declare readonly line?: number;
  constructor(message: string, ctx: ConfigErrorContext = {}) {
    super("CLUSTER_CONFIG", message, ctx);
  }
}

/** `hosts[2].network.latency` from a zod-style path. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${String(p)}`)).join("");
}
