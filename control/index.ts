/**
 * control/: static mode of the control plane. The runtime layout of a cluster
 * (processes, endpoints, plan share), the `moe node` process runner, the
 * launcher behind `moe up`, control endpoints and the cluster monitor.
 */

// Runtime layout (runtime.json) and run directories.
export { DEFAULT_DISPATCH_MS, DEFAULT_GATEWAY_PORT, DEFAULT_STEP_MS, bindHost, clusterName, computeRuntime, isLocalAddress, processByName, stageEndpoints } from "./runtime.js";
export type { ProcessRole, Runtime, RuntimeInput, RuntimeProcess, StageAssignment } from "./runtime.js";
export { RUN_FILES, defaultRunDir, locateRuntime, logFile, readRuntime, writeJsonAtomic, writeRunDir } from "./files.js";

// One process of the cluster.
export { canUpdateInPlace, startNode } from "./node.js";
export type { NodeOptions, RunningNode } from "./node.js";

// The launcher (`moe up`).
export { RunningCluster, launch, readPlanFile, resolveModelPath } from "./launcher.js";
export { freePortRange, freePorts } from "./ports.js";
export type { ChildState, ClusterExit, LaunchEvent, LaunchOptions } from "./launcher.js";
export { describeExit } from "./child.js";
export type { ChildExit, ReadyLine } from "./child.js";
export { NODE_FLAGS, moeCommand } from "./entry.js";
export type { MoeCommand } from "./entry.js";

// Per-host model parts and the engine's real KV limits.
export { checkPartHost, hostModelPath, hostParts, modelPathFor, partFile } from "./parts.js";
export { engineLimits } from "./limits.js";

// Control endpoints and the monitor.
export { ControlClient, ControlServer, pingOnce } from "./status.js";
export type { ControlServerOptions, ExpertStatus, PingResult, ProcessStatus, StageStatus, WireStatus } from "./status.js";
export { ClusterMonitor, statusContext } from "./monitor.js";
export type { ClusterMonitorOptions, HostState, ProcessState } from "./monitor.js";

// Dynamic mode (NATS): wire, weights, nodes, coordinator.
export { ControlMessageError, NODE_STATES, clusterStatusSchema, decodeJson, encodeJson, heartbeatSchema, subjects } from "./nats-wire.js";
export type { ClusterStatusMessage, Heartbeat, MemberStatus, NodeState, PlanMessage, Subjects } from "./nats-wire.js";
export { ChecksumCache, WeightManifestError, manifestBytes, manifestRootPath, missingFiles, pruneParts, scanManifest, sha256File } from "./weights.js";
export { HostParts } from "./host-parts.js";
export type { HostPartsOptions, WrittenPart } from "./host-parts.js";
export type { WeightFile, WeightManifest } from "./weights.js";
export { DEFAULT_CHUNK_BYTES, WeightServer, WeightTransferError, fetchFiles } from "./weight-transfer.js";
export type { FetchOptions, FetchProgress, FetchResult } from "./weight-transfer.js";
export { natsServerBinary, startNatsServer } from "./nats-server.js";
export type { NatsServerProcess } from "./nats-server.js";
export { SwitchingBackend } from "./switch-backend.js";
export { HeartbeatSender } from "./heartbeat.js";
export type { HeartbeatOptions } from "./heartbeat.js";
export { NodeAgent } from "./agent.js";
export type { AgentEvent, AgentOptions } from "./agent.js";
export { Coordinator } from "./coordinator.js";
export type { CoordinatorEvent, CoordinatorOptions } from "./coordinator.js";
export { launchDynamic } from "./dynamic.js";
export { SshError, closeMaster, multiplexed, pushModel, remoteRuntime, shq, sshArgv } from "./ssh.js";
export { prepareSshHosts, sshHosts, stopOnSshHost } from "./ssh-launch.js";
export type { SshEvent, SshHost } from "./ssh-launch.js";
export type { DynamicLaunchOptions } from "./dynamic.js";

// Errors.
export { AlreadyRunningError, ControlError, PlanNotServableError, RuntimeFileError, RuntimeLayoutError, StartupError } from "./errors.js";
export type { ControlErrorContext } from "./errors.js";
