/**
 * `moe status --nats URL`: live membership of a dynamic cluster. Asks the
 * coordinator (`moe up`) for its view — phase, plan version, every host's
 * state, re-plans — and, when no coordinator answers, lists the hosts whose
 * heartbeats arrive. Exit 0 when serving with every planned host ready.
 */
import { connect } from "nats";
import { clusterStatusSchema, decodeJson, encodeJson, heartbeatSchema, subjects, type ClusterStatusMessage, type Heartbeat } from "../control/index.js";
import { formatBytes } from "../planner/index.js";

function table(rows: string[][]): string {
  const width = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]!))).join("  ")).join("\n");
}

function printStatus(s: ClusterStatusMessage): void {
  console.log(`cluster ${s.cluster}: ${s.phase}, plan ${s.version} (coordinator pid ${s.coordinator.pid} on ${s.coordinator.host}), ${s.members.filter((m) => !m.lost).length} hosts live, min_hosts ${s.minHosts}`);
  if (s.gateway) console.log(`gateway: ${s.gateway}`);
  const rows = [["host", "address", "state", "plan", "seen", "processes", "detail"]];
  for (const m of s.members) {
    const detail = m.progress ? `fetching ${formatBytes(m.progress.bytes)} / ${formatBytes(m.progress.total)}` : (m.error ?? (m.assigned ? "" : m.lost ? "" : "standby"));
    rows.push([m.name, m.address, m.state, String(m.version), `${(m.lastSeenMs / 1000).toFixed(1)} s ago`, m.processes.map((p) => `${p.name} (${p.role})`).join(", ") || "-", detail]);
  }
  console.log(table(rows));
  if (s.replans.length) {
    console.log("re-plans:");
    for (const r of s.replans) console.log(`  plan ${r.version}: ${r.reason} at ${new Date(r.at).toISOString()}${r.seconds !== null ? `, serving again after ${r.seconds.toFixed(1)} s` : ", in progress"}`);
  }
}

/** Print the live state; sets the exit code. */
export async function statusNats(url: string, o: { json?: boolean; timeout: number; prefix?: string }): Promise<void> {
  const s = subjects(o.prefix);
  const nc = await connect({ servers: url.split(","), name: "moe-status", maxReconnectAttempts: 0 });
  try {
    let status: ClusterStatusMessage | undefined;
    try {
      const r = await nc.request(s.status, encodeJson({}), { timeout: o.timeout });
      status = decodeJson(clusterStatusSchema, r.data, s.status);
    } catch {
      status = undefined;
    }
    if (status) {
      if (o.json) console.log(JSON.stringify(status, null, 2));
      else printStatus(status);
      const planned = status.members.filter((m) => m.assigned);
      if (status.phase !== "serving" || planned.some((m) => m.state !== "ready")) process.exitCode = 1;
      return;
    }
    // no coordinator: who is heartbeating?
    const seen = new Map<string, Heartbeat>();
    const sub = nc.subscribe(s.heartbeat, {
      callback: (err, m) => {
        if (err) return;
        try {
          const hb = decodeJson(heartbeatSchema, m.data, s.heartbeat);
          seen.set(hb.name, hb);
        } catch {
          // not a heartbeat of ours
        }
      },
    });
    await new Promise((r) => setTimeout(r, 2500));
    sub.unsubscribe();
    if (o.json) console.log(JSON.stringify({ coordinator: null, hosts: [...seen.values()] }, null, 2));
    else {
      console.log(`no coordinator answers on ${url} (is \`moe up\` running?); ${seen.size} hosts heartbeating:`);
      if (seen.size) console.log(table([["host", "address", "state", "plan", "processes"], ...[...seen.values()].map((h) => [h.name, h.address, h.state, String(h.version), h.processes.map((p) => p.name).join(", ") || "-"])]));
    }
    process.exitCode = 1;
  } finally {
    await nc.close();
  }
}
