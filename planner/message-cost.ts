/**
 * Message costs: the software time of a dispatch, a result or a pipeline message between two
 * processes (both ends together), how many pipeline messages a decode step sends, and the wire time
 * between two hosts.
 */
import type { HostSpec } from "./cluster.js";
import { DEFAULT_COST_OPTIONS, type CostOptions } from "./cost-options.js";

/** Software time of one dispatch or result of `bytes` between two processes, both ends together, seconds. */
export function messageSoftware(bytes: number, opts: CostOptions = DEFAULT_COST_OPTIONS): number {
  return opts.messageSeconds + bytes * opts.messageSecondsPerByte;
}

/**
 * Pipeline messages of one decode step through `stages` stages (protocol v2): the client's one-way
 * `stage.input` to stage 0, one `stage.forward` per stage hop, and the last stage's `stage.tokens`
 * straight back to the client — `stages + 1`, all on the step's critical path.
 */
export function pipelineMessages(stages: number): number {
  return stages + 1;
}

/** Software time of one pipeline message of `bytes` (step in, stage hop, tokens out), both ends together, seconds. */
export function pipelineSoftware(bytes: number, opts: CostOptions = DEFAULT_COST_OPTIONS): number {
  return opts.pipelineMessageSeconds + bytes * opts.messageSecondsPerByte;
}

/** One-way message time between two hosts for `bytes` of payload (0 when co-located). */
export function messageTime(a: HostSpec, b: HostSpec, bytes: number): number {
  if (a === b) return 0;
  return bytes / Math.min(a.network.bandwidth, b.network.bandwidth) + Math.max(a.network.latency, b.network.latency);
}
