/**
 * The light entry of planner/: the device catalogue's names, with none of the cost model's or
 * model/'s dependencies, for start-up paths such as `moe plan --help`. Everything else comes
 * through index.ts, which re-exports these too.
 */
export { deviceKeys } from "./catalogue.js";
