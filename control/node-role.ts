/**
 * What every role of a cluster process (node.ts: stage, router, expert host; gateway-role.ts: the gateway)
 * shares: the resources a role returns, and the model opened with the check that it is the planned one.
 */
import { openModel, type ModelConfig } from "../model/index.js";
import { RuntimeLayoutError } from "./errors.js";
import { checkPartHost, modelPathFor } from "./parts.js";
import type { Runtime, RuntimeProcess } from "./runtime.js";
import type { ProcessStatus } from "./status.js";

/** The gateway's start-up warm-up, when one ran: passes, sequences per pass, tokens generated, wall seconds. */
export interface WarmupSummary {
  readonly passes: number;
  readonly sequences: number;
  readonly generatedTokens: number;
  readonly seconds: number;
}

/** The role's resources, closed in reverse order of opening. */
export interface Role {
  endpoint: string;
  warmup?: WarmupSummary;
  status(base: ProcessStatus): ProcessStatus;
  prepare?(runtime: Runtime, p: RuntimeProcess): Promise<void>;
  activate?(runtime: Runtime, p: RuntimeProcess): Promise<void>;
  close(): Promise<void>;
}

/** Open the model (or this host's part of it) and check it is the one the runtime was planned for. */
export function openChecked(runtime: Runtime, p: RuntimeProcess): ReturnType<typeof openModel> {
  const m = openModel(modelPathFor(runtime, p));
  try {
    checkPartHost(m, p);
  } catch (e) {
    m.close();
    throw e;
  }
  const c: ModelConfig = m.config;
  const want = runtime.model;
  if (c.nLayers !== want.layers || c.nExperts !== want.experts || c.dModel !== want.dModel || c.vocabSize !== want.vocabSize) {
    m.close();
    throw new RuntimeLayoutError(
      `${p.name}: ${runtime.model.path} has ${c.nLayers} layers × ${c.nExperts} experts, d_model ${c.dModel}, vocab ${c.vocabSize}; runtime.json was planned for ${want.layers} × ${want.experts}, ${want.dModel}, ${want.vocabSize}`,
      { process: p.name, fix: "start the cluster again with `moe up` for this model" },
    );
  }
  return m;
}
