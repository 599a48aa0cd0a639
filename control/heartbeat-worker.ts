/**
 * Worker thread of {@link HeartbeatSender}: publishes the host's latest
 * heartbeat on its own NATS connection every period, so that a host whose
 * main thread is busy loading weights for seconds (building sessions of a
 * large model blocks it) keeps heartbeating. It stops publishing when the
 * main thread has sent nothing for `maxSilenceMs` (a hung process must be
 * declared lost).
 */
import { parentPort, workerData } from "node:worker_threads";
import { connect } from "nats";

interface Data {
  readonly nats: string;
  readonly subject: string;
  readonly name: string;
  readonly periodMs: number;
  readonly maxSilenceMs: number;
}

const d = workerData as Data;
const port = parentPort!;
const nc = await connect({ servers: d.nats.split(","), name: `moe-node-${d.name}-heartbeat`, maxReconnectAttempts: -1, reconnectTimeWait: 500, waitOnFirstConnect: true });
let latest: Record<string, unknown> | undefined;
let updatedAt = Date.now();
let seq = 0;
const te = new TextEncoder();
const publish = (): void => {
  if (!latest || Date.now() - updatedAt > d.maxSilenceMs || nc.isClosed()) return;
  nc.publish(d.subject, te.encode(JSON.stringify({ ...latest, seq: seq++ })));
};
const timer = setInterval(publish, d.periodMs);
port.on("message", (m: { hb?: Record<string, unknown>; now?: boolean; stop?: boolean }) => {
  if (m.stop) {
    clearInterval(timer);
    void nc.drain().finally(() => port.postMessage({ stopped: true }));
    return;
  }
  if (m.hb) {
    latest = m.hb;
    updatedAt = Date.now();
  }
  if (m.now) publish();
});
port.postMessage({ ready: true });
