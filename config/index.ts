// config: the cluster file, parsed once (YAML + zod), frozen, cut into the slices each part reads:
// `planning` for the planner, `runtime` for control/ and the CLI. Depends on nothing but yaml and zod.

// the cluster file and its slices
export { DEFAULT_WARMUP_PASSES, loadClusterConfig, parseClusterConfig, parseClusterConfigYaml, sshHost } from "./cluster.js";
export type { ClusterConfig, NetworkConfig, PlacementConfig, PlanningConfig, PlanningHostConfig, RuntimeConfig, RuntimeHostConfig, SshConfig } from "./cluster.js";
export { ROLES, clusterFileSchema } from "./schema.js";
export type { ClusterFile, FileDType, Role } from "./schema.js";
export type { Locate } from "./issues.js";

// quantities with units
export { parseQuantity } from "./units.js";
export type { QuantityKind } from "./units.js";

// errors
export { ConfigError, fieldPath } from "./errors.js";
export type { ConfigErrorContext } from "./errors.js";
