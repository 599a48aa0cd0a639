/**
 * `moe status`: read a cluster's runtime.json, ping every process's control
 * endpoint and print up/down with what each one reports. Exit 0 when every
 * process is up, 1 otherwise.
 */
import { ClusterMonitor, locateRuntime, type ProcessState } from "../control/index.js";
import { clientCurve, loadClusterKeys } from "../transport/index.js";
import { statusNats } from "./status-nats.js";

interface StatusFlags {
  nats?: string;
  cluster?: string;
  runDir?: string;
  json?: boolean;
  timeout: number;
}

function detail(s: ProcessState): string {
  const st = s.status;
  if (!s.up) return s.error ?? "down";
  if (st?.stage) {
    const w = st.wire;
    return `layers [${st.stage.layers[0]}, ${st.stage.layers[1]}) live ${st.stage.live} busy ${st.stage.busySeconds.toFixed(1)} s steps ${st.stage.requests}` +
      (w ? ` dispatch p50 ${w.p50Ms.toFixed(2)} ms errors ${w.errors}` : "") +
      (st.stage.downHosts.length ? ` avoiding ${st.stage.downHosts.join(",")}` : "");
  }
  if (st?.expert) return `${st.expert.experts} experts, ${st.expert.requests} dispatches, ${st.expert.rows} rows`;
  if (st?.gateway) return st.gateway.url;
  return "";
}

export async function action(f: StatusFlags): Promise<void> {
  if (f.nats !== undefined) return statusNats(f.nats, { json: f.json, timeout: f.timeout });
  const runtime = locateRuntime({ cluster: f.cluster, runDir: f.runDir });
  const keys = runtime.curve ? loadClusterKeys(runtime.curve.keysDir) : undefined;
  const monitor = new ClusterMonitor(runtime, { curve: keys ? clientCurve(keys) : undefined, timeoutMs: f.timeout });
  let states: readonly ProcessState[];
  try {
    states = await monitor.poll();
  } finally {
    await monitor.close();
  }
  const up = states.filter((s) => s.up).length;
  if (f.json) {
    console.log(JSON.stringify({ cluster: runtime.cluster, runDir: runtime.runDir, up, total: states.length, processes: states.map((s) => ({ name: s.process.name, host: s.process.host, role: s.process.role, endpoint: s.process.endpoint, control: s.process.control, up: s.up, rttMs: s.rttMs, status: s.status, error: s.error })) }, null, 2));
  } else {
    const owner = runtime.stoppedAt ? `; stopped by its launcher at ${runtime.stoppedAt}` : runtime.launcherPid ? `; launcher pid ${runtime.launcherPid}` : "";
    console.log(`cluster ${runtime.cluster} (${runtime.runDir}): ${up}/${states.length} processes up${owner}`);
    const rows = states.map((s) => [s.process.name, s.process.role, s.process.host, s.process.endpoint, s.up ? "up" : "DOWN", s.up ? `${s.rttMs!.toFixed(1)} ms` : "", s.status ? String(s.status.pid) : "", detail(s)]);
    const head = ["process", "role", "host", "endpoint", "state", "ping", "pid", "detail"];
    const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows]) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]!))).join("  "));
  }
  if (up < states.length) process.exitCode = 1;
}
