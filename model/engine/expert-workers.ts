/**
 * Expert parallelism inside one process ({@link ComputeOptions.expertWorkers}): the experts of every
 * layer are split round-robin by index over `n` shares; share 0 stays on the calling thread, shares
 * 1…n−1 live in worker threads (`worker_threads`), each holding only its experts' sessions (one-thread
 * each). {@link LocalMoe} posts each worker its groups' rows of a layer, runs its own groups, then
 * awaits the workers, so one layer's experts run concurrently on up to `n` cores.
 */
import { Worker } from "node:worker_threads";
import type { ComputeOptions } from "../blocks/session.js";
import { disableOrtTelemetryByDefault } from "../blocks/telemetry.js";
import { ModelError } from "../errors.js";
import type { ExpertWeights } from "../onnx/expert.js";
import { q8Bytes, type LinearWeight } from "../onnx/linear.js";

/** A request to a worker. */
export type WorkerRequest =
  | { readonly type: "load"; readonly id: number; readonly layer: number; readonly expert: number; readonly weights: ExpertWeights }
  | { readonly type: "run"; readonly id: number; readonly layer: number; readonly jobs: readonly { readonly expert: number; readonly x: Float32Array }[] };

/** A worker's reply. */
export type WorkerReply =
  | { readonly type: "loaded"; readonly id: number }
  | { readonly type: "done"; readonly id: number; readonly outs: Float32Array[] }
  | { readonly type: "error"; readonly id: number; readonly message: string; readonly stack: string };

/** An expert worker that failed or was lost (code `EXPERT_WORKER`): names the worker and what went wrong. */
export class ExpertWorkerError extends ModelError {
  constructor(message: string) {
    super("EXPERT_WORKER", message, { fix: "run without --expert-workers to compute every expert on the main thread" });
  }
}

interface Pending {
  resolve(r: WorkerReply): void;
  reject(e: Error): void;
}

/** One worker thread and its requests in flight. */
class Slot {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private lost: Error | undefined;
  private closing = false;
  /** Whether the thread has exited. */
  exited = false;

  constructor(
    readonly index: number,
    private readonly worker: Worker,
  ) {
    worker.unref();
    worker.on("message", (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) worker.unref();
      if (r.type === "error") p.reject(new ExpertWorkerError(`expert worker ${index}: ${r.message}\n${r.stack}`));
      else p.resolve(r);
    });
    worker.on("error", (e) => this.fail(`failed: ${e.message}`));
    worker.on("exit", (code) => {
      this.exited = true;
      this.fail(`exited with code ${code}`);
    });
  }

  private fail(why: string): void {
    if (this.closing) why = "was closed";
    this.lost ??= new ExpertWorkerError(`expert worker ${this.index} ${why}`);
    for (const p of this.pending.values()) p.reject(this.lost);
    this.pending.clear();
  }

  /** Send a request; resolves with its reply, rejects with an {@link ExpertWorkerError}. */
  request(m: WorkerRequest extends infer T ? (T extends unknown ? Omit<T, "id"> : never) : never, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.lost) return Promise.reject(this.lost);
    const id = this.nextId++;
    return new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...m, id }, transfer);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
    this.exited = true;
    this.fail("was closed");
  }
}

/** Rows of one expert for a worker: the expert and its gathered rows [R, D]. */
export interface WorkerJob {
  readonly expert: number;
  readonly x: Float32Array;
}

/** The worker threads of an in-process expert split. */
export class ExpertWorkers {
  private constructor(
    /** Shares (main thread + workers). */
    readonly shares: number,
    private readonly slots: readonly Slot[],
  ) {}

  /** Start `shares − 1` workers whose sessions take `opts`. */
  static start(shares: number, opts: ComputeOptions): ExpertWorkers {
    // before a worker's first session: a worker's process.env is a copy that onnxruntime never reads
    disableOrtTelemetryByDefault();
    const slots: Slot[] = [];
    for (let i = 1; i < shares; i++) {
      // from dist/ the worker is a .js file; under the test runner (sources) a .ts one, loaded through tsx's API
      const worker = import.meta.url.endsWith(".ts")
        ? new Worker(`import("tsx/esm/api").then((t) => t.tsImport(${JSON.stringify(new URL("./expert-worker.ts", import.meta.url).href)}, ${JSON.stringify(import.meta.url)}))`, { eval: true, workerData: { opts } })
        : new Worker(new URL("./expert-worker.js", import.meta.url), { workerData: { opts } });
      slots.push(new Slot(i, worker));
    }
    return new ExpertWorkers(shares, slots);
  }

  /** Worker threads still running. */
  get running(): number {
    return this.slots.filter((s) => !s.exited).length;
  }

  /** The share holding `expert` (0 = the calling thread). */
  owner(expert: number): number {
    return expert % this.shares;
  }

  /** Hand expert `expert` of `layer` to its worker (share ≥ 1), which builds its session. */
  async load(share: number, layer: number, expert: number, w: ExpertWeights): Promise<void> {
    const weights: ExpertWeights = { gate: cloneable(w.gate), up: cloneable(w.up), down: cloneable(w.down) };
    await this.slots[share - 1]!.request({ type: "load", layer, expert, weights });
  }

  /** Run `jobs` of `layer` in worker `share`; resolves with one output [R, D] per job, in order. */
  async run(share: number, layer: number, jobs: readonly WorkerJob[]): Promise<Float32Array[]> {
    const r = await this.slots[share - 1]!.request({ type: "run", layer, jobs }, jobs.map((j) => j.x.buffer as ArrayBuffer));
    return (r as Extract<WorkerReply, { type: "done" }>).outs;
  }

  /** Terminate every worker (their sessions go with them). */
  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.close()));
  }
}

/** A weight as plain, compact arrays (a structured clone copies a view's whole buffer; a row source is read). */
function cloneable(w: LinearWeight): LinearWeight {
  if (w.kind === "f32") return { ...w, data: compact(w.data) };
  return { kind: "q8_0", out: w.out, in: w.in, blocks: compact(q8Bytes(w.blocks, w.out)) };
}

function compact<T extends Float32Array | Uint8Array>(a: T): T {
  return (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice()) as T;
}
