/**
 * The coordinator's view of the hosts that joined over NATS: their last
 * heartbeats, who is alive, and each one as a planner host (its announced
 * capabilities, or the cluster file's entry of the same name, at the
 * address and ports it offered).
 */
import { parseClusterConfig, type RuntimeConfig, type RuntimeHostConfig } from "../config/index.js";
import { resolveCluster, type ClusterSpec, type HostSpec, type Role } from "../planner/index.js";
import type { Heartbeat, MemberStatus } from "./nats-wire.js";

/** One host as the coordinator knows it. */
export interface Member {
  hb: Heartbeat;
  /** Local ms of the last heartbeat. */
  lastSeen: number;
  joinedAt: number;
  /** Heartbeats stopped (or it said bye, or failed its part): out of the plan until it joins again. */
  lost: boolean;
  lostReason?: string;
  /** The planner host, or why its capabilities were refused. */
  spec?: HostSpec;
  /** Its runtime entry: the address and base port it offered, its threads. */
  runtime?: RuntimeHostConfig;
  rejected?: string;
}

/** Roles a joined host may take: the gateway runs with the coordinator. */
const NODE_ROLES: readonly Role[] = ["stage", "expert", "router"];

/**
 * The planner host of a joined node: the cluster file's entry of the same name when there is one
 * (its capabilities, roles and threads win), else what the node announced; address and ports from the node.
 * @param cluster the planner's view of the file's listed hosts; `settings` its runtime slice
 * @throws ConfigError naming the bad field of the announcement
 */
export function memberHost(hb: Heartbeat, cluster: ClusterSpec, settings: RuntimeConfig): { spec: HostSpec; runtime: RuntimeHostConfig } {
  const listed = cluster.hosts.find((h) => h.name === hb.name);
  const listedRuntime = settings.hosts.find((h) => h.name === hb.name);
  const c = hb.capabilities;
  let base: HostSpec;
  if (listed) base = listed;
  else {
    const announced = parseClusterConfig({ hosts: [{ ...c, roles: (c.roles ?? NODE_ROLES).filter((r) => r !== "gateway"), name: hb.name }] }, `host ${hb.name} (moe node --join)`);
    base = resolveCluster(announced.planning, announced.locate).hosts[0]!;
  }
  const roles = base.roles.filter((r) => r !== "gateway");
  const spec = Object.freeze({ ...base, roles: Object.freeze(roles.length ? roles : [...NODE_ROLES]), address: hb.address });
  const runtime: RuntimeHostConfig = Object.freeze({ name: hb.name, field: listedRuntime?.field ?? `host ${hb.name}`, address: hb.address, ports: hb.basePort, threads: listedRuntime?.threads ?? c.threads });
  return { spec, runtime };
}

/** The members table as `moe status --nats` shows it. */
export function memberStatus(m: Member, assigned: boolean, now: number): MemberStatus {
  return {
    name: m.hb.name,
    address: m.hb.address,
    state: m.lost ? `lost (${m.lostReason ?? "no heartbeat"})` : m.rejected ? `rejected: ${m.rejected}` : m.hb.state,
    lost: m.lost,
    epoch: m.hb.epoch,
    version: m.hb.version,
    lastSeenMs: now - m.lastSeen,
    processes: m.hb.processes,
    ...(m.hb.progress ? { progress: m.hb.progress } : {}),
    ...(m.hb.error ? { error: m.hb.error } : {}),
    assigned,
  };
}
