/**
 * A real nats-server for tests: started on a free loopback port (or an
 * address the test owns), stopped after. `NATS_MISSING` says why tests skip
 * when the binary is not installed (`apt-get install nats-server`).
 */
import { freePorts, natsServerBinary, startNatsServer, type NatsServerProcess } from "../../control/index.js";

/** Why NATS tests are skipped, or undefined when nats-server is installed. */
export const NATS_MISSING: string | undefined = natsServerBinary() ? undefined : "nats-server is not installed (apt-get install nats-server): skipping the NATS tests";
if (NATS_MISSING) console.warn(NATS_MISSING);

/** Start a nats-server on `host` (default 127.0.0.1) and a free port. */
export async function natsServer(host = "127.0.0.1", port?: number, wrap?: readonly string[]): Promise<NatsServerProcess> {
  const [p] = port !== undefined ? [port] : await freePorts(1);
  return startNatsServer({ host, port: p!, wrap });
}
