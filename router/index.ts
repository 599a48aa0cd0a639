// router: MoE gating, dispatch to expert hosts with replica choice and retries, combine.
export { RouterCore } from "./core.js";
export { placementKey, type MoeRouter, type DispatchPart, type DispatchRows, type ExpertTransport, type ExpertPlacement, type ExpertLoad, type RouterCoreOptions } from "./core-types.js";
export { rankReplicas, coolDownMs, splitShares, type HostHealth } from "./replicas.js";
export { ExpertUnavailableError, PlacementError } from "./errors.js";
export { ZmqExpertTransport, type ZmqExpertTransportOptions } from "./zmq-transport.js";
export { RouterService, type RouterServiceOptions } from "./service.js";
export { RemoteRouter, type RemoteRouterOptions } from "./remote.js";
