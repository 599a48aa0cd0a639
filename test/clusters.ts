/**
 * Test helpers: a cluster file read the way the CLI reads it — config/ parses
 * it once, the planner resolves its planning slice, control/ gets the runtime
 * slice.
 */
import { loadClusterConfig, parseClusterConfig, parseClusterConfigYaml, type ClusterConfig, type RuntimeConfig } from "../config/index.js";
import { resolveCluster, type ClusterSpec } from "../planner/index.js";

const resolved = (c: ClusterConfig): ClusterSpec => resolveCluster(c.planning, c.locate);

/** The planner's view of a cluster file. */
export const loadCluster = (file: string): ClusterSpec => resolved(loadClusterConfig(file));
/** The planner's view of cluster YAML text. */
export const parseClusterYaml = (text: string, source = "<cluster>"): ClusterSpec => resolved(parseClusterConfigYaml(text, source));
/** The planner's view of a cluster object (as YAML would give). */
export const parseCluster = (raw: unknown, source = "<cluster>"): ClusterSpec => resolved(parseClusterConfig(raw, source));

/** Both views control/ needs: the planner's cluster and the runtime slice. */
export function clusterAndSettings(config: ClusterConfig): { cluster: ClusterSpec; settings: RuntimeConfig } {
  return { cluster: resolved(config), settings: config.runtime };
}
