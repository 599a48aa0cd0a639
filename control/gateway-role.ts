/**
 * The gateway role of a cluster process: the HTTP gateway over a pipeline client to the stages, a monitor
 * of every process (metrics, /v1/cluster), and the start-up warm-up once the rest of the cluster answers.
 */
import type { Logger } from "pino";
import type { Gateway } from "../gateway/index.js";
import { loadTokenizerOrIds, type ModelConfig } from "../model/index.js";
import { PipelineClient } from "../stages/index.js";
import { clientCurve, type ClusterKeys } from "../transport/index.js";
import { StartupError } from "./errors.js";
import { ClusterMonitor } from "./monitor.js";
import type { NodeOptions } from "./node.js";
import { openChecked, type Role } from "./node-role.js";
import { stageEndpoints, type Runtime, type RuntimeProcess } from "./runtime.js";
import { SwitchingBackend } from "./switch-backend.js";

/** Start the gateway of process `p` (its warm-up first, when the runtime asks for one). */
export async function startGatewayRole(opts: NodeOptions, p: RuntimeProcess, keys: ClusterKeys | undefined, logger: Logger): Promise<Role> {
  const runtime = opts.runtime;
  const m = openChecked(runtime, p);
  let config: ModelConfig;
  let tokenizer;
  const tokenizerSource = m.tokenizer;
  try {
    config = m.config;
    tokenizer = await loadTokenizerOrIds(m.tokenizer, m.config);
  } finally {
    m.close();
  }
  const curve = keys ? clientCurve(keys) : undefined;
  const pipeline = (rt: Runtime) => new PipelineClient({ endpoints: stageEndpoints(rt), vocabSize: config.vocabSize, name: p.name, stepDeadlineMs: rt.timeouts.stepMs, curve, logger });
  const backend = new SwitchingBackend(pipeline(runtime));
  let stages = stageEndpoints(runtime).join(" ");
  let monitor = new ClusterMonitor(runtime, { curve, logger, intervalMs: 500 });
  monitor.start();
  const [host, port] = splitHostPort(p.bind);
  const warmupPasses = runtime.warmup?.passes ?? 0;
  let gateway: Gateway;
  try {
    // the warm-up runs through the whole pipeline: every other process must serve first
    if (warmupPasses > 0) {
      await waitForCluster(monitor, p.name, WARMUP_WAIT_MS, logger);
      opts.onWarmup?.(warmupPasses);
    }
    // imported here: stage and expert processes never load the HTTP gateway (~40 ms of CPU each)
    const { startGateway } = await import("../gateway/index.js");
    gateway = await startGateway({
      ...(warmupPasses > 0 ? { warmup: { passes: warmupPasses }, onWarmupPass: (pass: number, seconds: number) => logger.info({ pass, of: warmupPasses, seconds }, "warm-up pass") } : {}),
      backend,
      tokenizer,
      config,
      modelName: runtime.model.name,
      tokenizerSource,
      host,
      port,
      // `moe up --api-key` (or MOE_API_KEY of the launcher) reaches the gateway through its environment
      ...(process.env.MOE_API_KEY ? { apiKey: process.env.MOE_API_KEY } : {}),
      limits: runtime.limits ?? undefined,
      expertLoad: () => monitor.expertLoad(),
      // sequences holding KV caches, as the stages last reported (every stage holds the same sequences)
      kvSequences: () => Math.max(0, ...monitor.snapshot().map((st) => st.status?.stage?.live ?? 0)),
      // every stage reclaims the same idle sequences: count them once
      reclaimedSequences: () => Math.max(0, ...monitor.snapshot().map((st) => st.status?.stage?.reclaimed ?? 0)),
      clusterStatus: async () => {
        await monitor.poll();
        return monitor.hostStates();
      },
      logger,
    });
  } catch (e) {
    await monitor.close();
    await backend.close();
    throw e;
  }
  const w = gateway.warmup;
  // the stages' gauges (live KV sequences) as of after the warm-up's releases, not of a poll during it
  if (w) await monitor.pollFresh();
  return {
    endpoint: gateway.url,
    ...(w ? { warmup: { passes: w.passes, sequences: w.sequences, generatedTokens: w.generatedTokens, seconds: w.seconds } } : {}),
    status: (base) => ({ ...base, gateway: { url: gateway.url } }),
    // a re-plan: watch the new processes; a new pipeline when stages moved
    activate: async (next) => {
      const old = monitor;
      monitor = new ClusterMonitor(next, { curve, logger, intervalMs: 500 });
      monitor.start();
      await old.close();
      const nextStages = stageEndpoints(next).join(" ");
      if (nextStages !== stages) {
        stages = nextStages;
        await backend.replace(pipeline(next));
        logger.warn({ stages: nextStages }, "the stages moved: new pipeline");
      }
    },
    close: async () => {
      await gateway.close();
      await monitor.close();
      await backend.close();
    },
  };
}

/** Longest wait of the gateway for the rest of the cluster before its warm-up, ms (the launcher's default ready timeout). */
const WARMUP_WAIT_MS = 120_000;

/**
 * Poll until every process but `self` answers on its control endpoint.
 * @throws StartupError naming the processes still down after `timeoutMs`
 */
async function waitForCluster(monitor: ClusterMonitor, self: string, timeoutMs: number, logger: Logger): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const down = (await monitor.poll()).filter((st) => st.process.name !== self && !st.up);
    if (down.length === 0) return;
    if (Date.now() - t0 > timeoutMs)
      throw new StartupError(`${self}: cannot warm up: ${down.map((st) => `${st.process.name} (${st.process.role} on ${st.process.host}${st.error ? `: ${st.error}` : ""})`).join(", ")} did not answer within ${timeoutMs / 1000} s`, "", {
        process: down[0]!.process.name,
        host: down[0]!.process.host,
        fix: "check those processes' logs, or start the gateway with warm-up off (--warmup-passes 0)",
      });
    logger.debug({ down: down.map((st) => st.process.name) }, "waiting for the cluster before the warm-up");
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** "127.0.0.1:8000" → ["127.0.0.1", 8000]. */
function splitHostPort(bind: string): [string, number] {
  const i = bind.lastIndexOf(":");
  return [bind.slice(0, i).replace(/^\[|\]$/g, ""), Number(bind.slice(i + 1))];
}
