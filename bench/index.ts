/** The benchmarks (`npm run bench -- <name>`, `moe bench <name>`); never part of `npm test`. */

export { BENCHES, CLUSTER_WARMUP_PASSES, DEFAULT_BENCHES, ON_DEMAND_BENCHES, runBenches } from "./light.js";

// statistics every benchmark reports with
export { alternatedRatio, median } from "./stats.js";

// the parts of `bench engine --compare`, for tests
export { loadCompareBuild } from "./engine-compare.js";

// the parts of `bench cluster`, for tests
export { CLUSTER_BENCH_SCHEMA, formatClusterBench, hopsBeyondRaw } from "./cluster-report.js";
export type { BreakdownRow, ClusterBenchJson, DecodeRow, RoundTripLayer, RoundTripRow } from "./cluster-report.js";
export { EchoChildren, EchoClient, EchoServer, MAX_REPLY_BYTES } from "./echo.js";
export type { EchoFrame } from "./echo.js";
export { benchRows, callBytes, callCpu, layerCall } from "./moe-calls.js";
export { clusterTokens, compareDecode } from "./decode-compare.js";
export type { DecodeCompareOptions } from "./decode-compare.js";
export { InStepMoeBackend } from "./in-step-moe.js";
export type { InStepMoe, InStepMoeTimer } from "./in-step-moe.js";
export type { CallCpu, CallDispatch, CallPlacement, LayerCall } from "./moe-calls.js";
export { TRACE_PARTS, TraceHost, traceCalls } from "./trace.js";
export type { TraceBreakdown, TracePart, TraceRecord } from "./trace.js";

// the parts of `bench llama` that need no llama.cpp, for tests
export { ggufOf } from "./llama.js";
export { openLlamaPeer } from "./llama-peer.js";
export {
  benchRow,
  compareTokens,
  formatLlamaBench,
  formatTokenCheck,
  LLAMA_BENCH_SCHEMA,
  LLAMA_USAGE,
  parseLlamaArgs,
  prefillScaling,
  sideFigures,
} from "./llama-report.js";
export type { LlamaBenchJson, LlamaBenchModel, LlamaBenchOptions, LlamaBenchRow, Sample, SideFigures, TokenCheck } from "./llama-report.js";
export { ensureLlamaCpp, findLlamaCpp, installCommand, installNotice, LLAMA_CPP_DIR_ENV, LLAMA_CPP_PACKAGE, LLAMA_CPP_VERSION, LlamaCppSetupError } from "./llama-setup.js";
export type { LlamaCppInstall } from "./llama-setup.js";
