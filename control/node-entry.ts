/**
 * The entry of control/ for one static cluster process (`moe node --runtime --process`): what it
 * needs and nothing of the launcher, the monitor CLI, dynamic mode (NATS) or ssh, so that every
 * cluster process starts without loading them. Everything else comes through index.ts, which
 * re-exports these too.
 */
export { readRuntime } from "./files.js";
export { startNode } from "./node.js";
export type { NodeOptions, RunningNode } from "./node.js";
