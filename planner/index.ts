// planner: cluster spec + device catalogue, cost model, layer partition (DP),
// expert placement (speed-weighted, EPLB-style replicas), plan.json and reports.
// Depends on model/ only.

// cluster file and devices
export { loadCluster, parseCluster, parseClusterYaml, uniformCluster, clusterFileSchema, fieldPath, sshHost, ROLES, DEFAULT_NETWORK } from "./cluster.js";
export type { ClusterSpec, HostSpec, NetworkSpec, PlacementSpec, Role, ClusterFile, SshSpec } from "./cluster.js";
export { DEVICES, DEVICE_ALIASES, WEIGHT_DTYPES, EXECUTION_PROVIDERS, lookupDevice, deviceKeys } from "./catalogue.js";
export type { DeviceSpec, WeightDType, ExecutionProvider } from "./catalogue.js";
export { parseQuantity, formatBytes, formatSeconds, formatRate } from "./units.js";
export type { QuantityKind } from "./units.js";

// cost model and predictions
export {
  DEFAULT_COST_OPTIONS,
  modelCosts,
  usableBytes,
  reserveBytes,
  stageWeightBytes,
  stageKvBytes,
  stageTime,
  decodeWork,
  expertTouchTime,
  messageTime,
  touchProbability,
  expectedDistinctExperts,
  expectedLayerTime,
} from "./cost.js";
export type { CostOptions, Workload, ModelCosts, StageRole, StageWork, WorkTime, HostLayerWork } from "./cost.js";
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
export { placeWithoutLost } from "./replan.js";
export type { PlacedPlan, Replacement, ReplacementFailure } from "./replan.js";
export { resolveWorkload, resolveCostOptions } from "./options.js";
export type { PlanOptions } from "./options.js";
export type { PlanJson, PlanHost, Predicted, Shortfall, Fix } from "./types.js";
export { computeShortfall, memoryDemand, minCluster } from "./fixes.js";
export type { MinClusterResult, PlanFn } from "./fixes.js";
export { comparePlans, uniformPlacement, memoryProportionalPlacement, proportional } from "./baselines.js";
export type { CompareRow } from "./baselines.js";
export { loadExpertLoad, parseExpertLoad, routingShares } from "./load.js";

// reports
export { formatPlan, formatCompare, formatMinCluster, table } from "./report.js";

// errors
export { PlannerError, ClusterConfigError, PlacementError, ExpertLoadError, PlanInputError } from "./errors.js";
export type { PlannerErrorContext } from "./errors.js";
