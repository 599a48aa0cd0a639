// router: MoE gating, dispatch to expert hosts with replica choice and retries, combine.
export { RouterCore, placementKey, splitShares, type MoeRouter, type DispatchPart, type DispatchRows, type ExpertTransport, type ExpertPlacement, type ExpertLoad, type RouterCoreOptions } from "./core.js";
export { rankReplicas, coolDownMs, type HostHealth } from "./replicas.js";
export { ExpertUnavailableError, PlacementError } from "./errors.js";
export { ZmqExpertTransport, type ZmqExpertTransportOptions } from "./zmq-transport.js";
export { RouterService, type RouterServiceOptions } from "./service.js";
export { RemoteRouter, type RemoteRouterOptions } from "./remote.js";
