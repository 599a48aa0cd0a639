/** Errors of the router: an expert that no live host can serve, a placement that lacks one. */
import { MoeError } from "../common/index.js";

/** No host could run (layer, expert) for this request. */
export class ExpertUnavailableError extends MoeError {
  declare readonly layer: number;
  declare readonly expert: number;
  /** Hosts tried, in order, with why each failed. */
  declare readonly attempts: readonly { host: string; error: string }[];
  constructor(layer: number, expert: number, attempts: readonly { host: string; error: string }[]) {
    super(
      "EXPERT_UNAVAILABLE",
      attempts.length
        ? `expert (layer ${layer}, expert ${expert}) unavailable: ${attempts.map((a) => `host ${a.host}: ${a.error}`).join("; ")}`
        : `expert (layer ${layer}, expert ${expert}) has no host in the placement`,
      { layer, expert, attempts },
    );
  }
}

/** The placement has no entry for a (layer, expert) the router must serve. */
export class PlacementError extends MoeError {
  constructor(message: string) {
    super("PLACEMENT", message);
  }
}
