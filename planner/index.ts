// planner: cluster spec (resolved from config/'s planning slice) + device catalogue, cost model, layer partition (DP),
// expert placement (speed-weighted, EPLB-style replicas), plan.json and reports.
// Depends on model/ only.

// cluster file and devices
export { resolveCluster, uniformCluster, ROLES, DEFAULT_NETWORK } from "./cluster.js";
export type { ClusterSpec, ClusterInput, HostInput, HostSpec, LocateField, NetworkSpec, PlacementSpec, Role } from "./cluster.js";
export { DEVICES, DEVICE_ALIASES, WEIGHT_DTYPES, EXECUTION_PROVIDERS, lookupDevice, deviceKeys } from "./catalogue.js";
export type { DeviceSpec, WeightDType, ExecutionProvider } from "./catalogue.js";
export { formatBytes, formatSeconds, formatRate } from "./units.js";

// cost model and predictions
export { modelCosts, usableBytes, reserveBytes, stageWeightBytes, stageKvBytes, stageTime, decodeWork, expertTouchTime } from "./cost.js";
export { DEFAULT_COST_OPTIONS } from "./cost-options.js";
export { messageSoftware, pipelineMessages, pipelineSoftware, messageTime } from "./message-cost.js";
export { touchProbability, expectedDistinctExperts, expectedLayerTime } from "./sparsity.js";
export type { ModelCosts, StageRole, StageWork, WorkTime } from "./cost.js";
export type { CostOptions, Workload } from "./cost-options.js";
export type { HostLayerWork } from "./sparsity.js";
export { evaluatePlacement } from "./predict.js";
export type { Placement, Evaluation, HostMemory, Bottleneck, Breakdown } from "./predict.js";

// algorithms
export { partitionLayers, PARTITION_ROLES } from "./partition.js";
export type { PartitionProblem, PartitionHost, PartitionResult, PartitionStage, PartitionRole, StageOption } from "./partition.js";
export { placeExperts, waterfill, replicaCounts } from "./experts.js";
export type { ExpertHost, ExpertPlacementProblem, ExpertPlacementResult, ExpertSlot } from "./experts.js";
export { planPlacement, searchPlacement, explicitPlacement, plannedMicroBatch, partitionSetup } from "./placement.js";
export type { PlacementOutcome, PartitionSetup, SearchOutcome } from "./placement.js";

// plans
export { makePlan, planOnce } from "./plan.js";
export { resolveWorkload, resolveCostOptions } from "./options.js";
export type { PlanOptions } from "./options.js";
export type { PlanJson, PlanHost, Predicted, Shortfall, Fix } from "./types.js";
export { computeShortfall, memoryDemand, minCluster } from "./fixes.js";
export type { MinClusterResult, PlanFn } from "./fixes.js";
export { comparePlans, uniformPlacement, memoryProportionalPlacement, proportional } from "./baselines.js";
export type { CompareRow } from "./baselines.js";
export { loadExpertLoad, parseExpertLoad, routingShares } from "./load.js";

export { placeWithoutLost } from "./replan.js";
export type { PlacedPlan, Replacement, ReplacementFailure } from "./replan.js";

// calibration from `moe bench cluster --json`
export { BENCH_SCHEMA, loadBenchFile, parseBenchFile } from "./bench-file.js";
export type { BenchFile } from "./bench-file.js";
export { calibrate } from "./calibrate.js";
export { fitLinear, fitMessages } from "./fit.js";
export type { Calibration, CalibrationCheck, CalibratedCost } from "./calibrate.js";
export { layerPhase, replicasByLayer } from "./layer.js";
export type { HostPhase, LayerPhase } from "./layer.js";

// reports
export { formatPlan, formatCompare, formatMinCluster, table } from "./report.js";

// errors
export { PlannerError, ClusterConfigError, PlacementError, ExpertLoadError, PlanInputError, CalibrationError, fieldPath } from "./errors.js";
export type { PlannerErrorContext } from "./errors.js";
