/**
 * A local cluster started with extra V8 / Node flags (`$MOE_NODE_FLAGS`) and environment for its `moe`
 * processes, with a pipeline client to its first stage: what `bench cluster-ab` (one per variant) and
 * `bench warmup-trend` decode on.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launch, stageEndpoints, type RunningCluster } from "../control/index.js";
import { PipelineClient } from "../stages/index.js";

/** A started cluster, its client and its run directory (the processes' logs). */
export interface FlaggedCluster {
  readonly cluster: RunningCluster;
  readonly client: PipelineClient;
  readonly runDir: string;
  /** Wall seconds of the launch, until every process (the gateway after its warm-up) was ready. */
  readonly startSeconds: number;
}

/** What {@link startFlaggedCluster} starts. */
export interface FlaggedClusterOptions {
  readonly clusterFile: string;
  readonly modelDir: string;
  readonly vocabSize: number;
  /** Names the run directory and the client. */
  readonly name: string;
  /** Extra flags of the cluster's processes (space-separated; `$MOE_NODE_FLAGS` while they start). */
  readonly flags: string;
  /** Extra environment of the cluster's processes. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Start the cluster's gateway (ephemeral port) with this many start-up warm-up passes; absent: no gateway
   * (and so no warm-up). The bench still decodes through its own client to stage 0.
   */
  readonly warmupPasses?: number;
}

/**
 * Start the cluster (no gateway) with `flags` and `env` set in this process's environment only while its
 * processes start (restored after), and a client with a 60 s step deadline. A failure removes the run directory.
 */
export async function startFlaggedCluster(o: FlaggedClusterOptions): Promise<FlaggedCluster> {
  const runDir = mkdtempSync(join(tmpdir(), `moe-${o.name}-`));
  const set: Record<string, string> = { MOE_NODE_FLAGS: o.flags, ...(o.env ?? {}) };
  const saved = Object.fromEntries(Object.keys(set).map((k) => [k, process.env[k]]));
  let cluster: RunningCluster | undefined;
  const t0 = performance.now();
  try {
    Object.assign(process.env, set);
    try {
      const gw = o.warmupPasses !== undefined ? { gateway: true, gatewayPort: 0, warmupPasses: o.warmupPasses } : { gateway: false };
      cluster = await launch({ clusterFile: o.clusterFile, modelPath: o.modelDir, runDir, ...gw, loadIntervalMs: 3_600_000 });
    } finally {
      for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
    }
    const client = new PipelineClient({ endpoints: stageEndpoints(cluster.runtime), vocabSize: o.vocabSize, name: o.name, stepDeadlineMs: 60_000 });
    return { cluster, client, runDir, startSeconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    await cluster?.stop();
    rmSync(runDir, { recursive: true, force: true });
    throw e;
  }
}
