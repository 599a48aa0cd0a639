/**
 * Synchronous runs through onnxruntime-node's native binding.
 *
 * `ort.InferenceSession.run` (the public API) validates its arguments, defers the run to a
 * `setImmediate`, resolves a promise and re-wraps every output: ≈ 22 µs per run against ≈ 11 µs for
 * the binding's own `run` (1 row, trivial graph), and a decode step makes ~16 runs. The public API's
 * session handler (`onnxruntime-node/dist/backend.js`) is a thin shell over the binding's
 * `InferenceSession` (`loadModel(buffer, byteOffset, byteLength, options)`, `run(feeds, fetches)`,
 * `dispose()`); {@link NativeSession} calls it directly, with the same session options object (so
 * `externalData` and the `extra` config entries reach the native parser exactly as they do through
 * the public API).
 *
 * That binding is not a public interface: it is used only for the onnxruntime-node versions it was
 * checked against ({@link CHECKED_ORT_VERSIONS}) and only when it has the expected shape; otherwise
 * {@link nativeBinding} reports why and the caller falls back to the public API (warned once).
 */
import { createRequire } from "node:module";
import * as ort from "onnxruntime-node";

/** onnxruntime-node versions (major.minor) whose native binding {@link NativeSession} was checked against. */
export const CHECKED_ORT_VERSIONS: readonly string[] = ["1.30"];

/** Outputs of a run by name (the binding builds `ort.Tensor`s with their own copy of the data). */
export type RunOutputs = Record<string, ort.Tensor>;

/** The binding's session object (onnxruntime-node 1.30: js/node/src/inference_session_wrap.cc). */
interface BindingSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  loadModel(path: string, options: object): void;
  run(feeds: ort.InferenceSession.FeedsType, fetches: Record<string, null>): RunOutputs;
  dispose(): void;
  readonly inputMetadata: readonly { readonly name: string }[];
  readonly outputMetadata: readonly { readonly name: string }[];
}

interface Binding {
  readonly ctor: new () => BindingSession;
  readonly initOrt: () => void;
}

let probed: { binding?: Binding; reason?: string } | undefined;

/** Whether the running onnxruntime-node is one of `versions` ("1.30" matches 1.30 and 1.30.x). */
export function ortVersionIn(versions: readonly string[]): boolean {
  const version = ort.env.versions.node ?? "unknown";
  return versions.some((v) => version === v || version.startsWith(`${v}.`));
}

/**
 * The native binding when this onnxruntime-node is one it was checked against and has the expected
 * shape; else `reason` says why not (the caller then uses the public API).
 */
export function nativeBinding(): { binding?: Binding; reason?: string } {
  if (probed) return probed;
  const version = ort.env.versions.node ?? "unknown";
  if (!ortVersionIn(CHECKED_ORT_VERSIONS)) {
    probed = { reason: `onnxruntime-node ${version} is not a version whose native binding was checked (${CHECKED_ORT_VERSIONS.join(", ")})` };
    return probed;
  }
  try {
    const req = createRequire(import.meta.url);
    const mod = req("onnxruntime-node/dist/binding.js") as { binding?: { InferenceSession?: unknown }; initOrt?: unknown };
    const ctor = mod.binding?.InferenceSession as (new () => BindingSession) | undefined;
    const proto = ctor?.prototype as Partial<Record<string, unknown>> | undefined;
    if (typeof ctor !== "function" || typeof mod.initOrt !== "function" || !["loadModel", "run", "dispose", "inputMetadata", "outputMetadata"].every((m) => m in (proto ?? {})))
      probed = { reason: `onnxruntime-node ${version}: dist/binding.js does not export InferenceSession (loadModel, run, dispose) and initOrt as expected` };
    else probed = { binding: { ctor, initOrt: mod.initOrt as () => void } };
  } catch (e) {
    probed = { reason: `onnxruntime-node ${version}: its native binding could not be loaded (${(e as Error).message})` };
  }
  return probed;
}

let warned = false;

/** Warn once per process (Node's `process.emitWarning`) that runs fall back to the public API, and why. */
export function warnFallbackOnce(reason: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(`${reason}; onnxruntime runs go through the public async API (about 10 µs more per run)`, { code: "MOE_ORT_ASYNC_RUNS" });
}

/** A session on the native binding: synchronous runs of every output. */
export class NativeSession {
  private readonly fetches: Record<string, null>;
  /** Input names of the graph. */
  readonly inputNames: readonly string[];
  /** Output names of the graph. */
  readonly outputNames: readonly string[];

  private constructor(private readonly s: BindingSession) {
    this.inputNames = s.inputMetadata.map((m) => m.name);
    this.outputNames = s.outputMetadata.map((m) => m.name);
    this.fetches = Object.fromEntries(this.outputNames.map((n) => [n, null]));
  }

  /**
   * Load `model` (serialized ModelProto) with `options` (the public API's session options, including
   * `externalData`), synchronously, as the public API's handler does.
   */
  static load(binding: Binding, model: Uint8Array | string, options: ort.InferenceSession.SessionOptions): NativeSession {
    binding.initOrt();
    const s = new binding.ctor();
    if (typeof model === "string") s.loadModel(model, options);
    else s.loadModel(model.buffer, model.byteOffset, model.byteLength, options);
    return new NativeSession(s);
  }

  /** Run on the calling thread and return every output (the binding checks the feeds' types and shapes). */
  run(feeds: ort.InferenceSession.FeedsType): RunOutputs {
    return this.s.run(feeds, this.fetches);
  }

  release(): void {
    this.s.dispose();
  }
}
