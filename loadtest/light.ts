/**
 * The light entry of loadtest/: the option parsers of `moe loadtest`, with none of the load
 * generator's dependencies (HDR histograms, progress bars, reports), for start-up. Everything else
 * comes through index.ts, which re-exports these too.
 */
export { parseDatasetFormat } from "./datasets.js";
export { parseEndpoint } from "./client.js";
export { parseHeader } from "./headers.js";
export { parseLengthDist, parseVocabRange } from "./prompts.js";
export { parseLoadList } from "./load-list.js";
export { parseSlo } from "./stats.js";
