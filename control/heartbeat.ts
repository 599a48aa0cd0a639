/**
 * A host's heartbeat, sent from a worker thread ({@link HeartbeatSender}):
 * the agent hands it the latest state; the worker publishes it on schedule
 * whatever the main thread is doing.
 */
import { Worker } from "node:worker_threads";
import type { Heartbeat } from "./nats-wire.js";

/** Options of {@link HeartbeatSender.start}. */
export interface HeartbeatOptions {
  readonly nats: string;
  readonly subject: string;
  readonly name: string;
  /** Publish period, ms. */
  readonly periodMs: number;
  /** Stop publishing when the main thread has not updated the heartbeat for this long, ms. Default 120000. */
  readonly maxSilenceMs?: number;
}

export class HeartbeatSender {
  private constructor(private readonly worker: Worker) {}

  /** Start the worker; resolves once it is connected to NATS. */
  static async start(o: HeartbeatOptions): Promise<HeartbeatSender> {
    const workerData = { nats: o.nats, subject: o.subject, name: o.name, periodMs: o.periodMs, maxSilenceMs: o.maxSilenceMs ?? 120_000 };
    // from dist/ the worker is a .js file; under the test runner (sources) a .ts one, loaded through tsx's API
    const worker = import.meta.url.endsWith(".ts")
      ? new Worker(`import("tsx/esm/api").then((t) => t.tsImport(${JSON.stringify(new URL("./heartbeat-worker.ts", import.meta.url).href)}, ${JSON.stringify(import.meta.url)}))`, { eval: true, workerData })
      : new Worker(new URL("./heartbeat-worker.js", import.meta.url), { workerData });
    await new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
    });
    return new HeartbeatSender(worker);
  }

  /** The state to publish from now on; `now` publishes it at once too (a state change). */
  update(hb: Heartbeat, now = false): void {
    this.worker.postMessage({ hb, now });
  }

  /** Stop publishing and close the worker's connection. */
  async stop(): Promise<void> {
    const stopped = new Promise<void>((r) => this.worker.once("message", () => r()));
    this.worker.postMessage({ stop: true });
    await Promise.race([stopped, new Promise((r) => setTimeout(r, 3000))]);
    await this.worker.terminate();
  }
}
