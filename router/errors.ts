/** Errors of the router: an expert that no live host can serve. */

/** No host could run (layer, expert) for this request. */
export class ExpertUnavailableError extends Error {
  readonly code = "EXPERT_UNAVAILABLE";
  constructor(
    readonly layer: number,
    readonly expert: number,
    /** Hosts tried, in order, with why each failed. */
    readonly attempts: readonly { host: string; error: string }[],
  ) {
    super(
      attempts.length
        ? `expert (layer ${layer}, expert ${expert}) unavailable: ${attempts.map((a) => `host ${a.host}: ${a.error}`).join("; ")}`
        : `expert (layer ${layer}, expert ${expert}) has no host in the placement`,
    );
    this.name = "ExpertUnavailableError";
  }
}

/** The placement has no entry for a (layer, expert) the router must serve. */
export class PlacementError extends Error {
  readonly code = "PLACEMENT";
  constructor(message: string) {
    super(message);
    this.name = "PlacementError";
  }
}
