/**
 * Free TCP port ranges on this machine, for a joining host to offer its
 * processes (each takes a data port and a control port, see runtime.ts).
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { ControlError } from "./errors.js";

/** Linux's range for outgoing connections' local ports (offered ports stay below it so no client takes them). */
function ephemeralLow(): number {
  try {
    const lo = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(lo) && lo > 2048 ? lo : 32768;
  } catch {
    return 32768; // not Linux: the IANA dynamic range starts at 49152, Linux's at 32768
  }
}

function listen(host: string, port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(undefined));
    s.listen({ host, port, exclusive: true }, () => resolve(s));
  });
}

/**
 * The first of `count` consecutive ports that are all free on `host` now (bound and released to check),
 * below the ephemeral range so that no outgoing connection takes one meanwhile.
 * @throws ControlError after 200 tries
 */
export async function freePortRange(host: string, count: number, lo = 10000, hi = Math.min(ephemeralLow(), 65536)): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = lo + Math.floor(Math.random() * (hi - lo - count));
    const held: Server[] = [];
    let ok = true;
    for (let p = base; p < base + count && ok; p++) {
      const s = await listen(host, p);
      if (s) held.push(s);
      else ok = false;
    }
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    if (ok) return base;
  }
  throw new ControlError("NO_FREE_PORTS", `no ${count} consecutive free ports on ${host}`, { fix: "pass --base-port with a free range" });
}

/** `n` distinct free TCP ports on `host` (default 127.0.0.1) (held open together so they differ, then released). */
export async function freePorts(n: number, host = "127.0.0.1"): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((res, rej) => {
          const s = createServer();
          s.once("error", rej);
          s.listen(0, host, () => res(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
