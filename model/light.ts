/**
 * The light entry of model/: constants that need none of its heavy dependencies (zod,
 * onnxruntime-node, the weight readers), for start-up paths such as the `moe` command's option
 * help. Everything else comes through index.ts, which re-exports these too.
 */
export { GROK_DEFAULTS, PRESETS, ffnSize } from "./presets.js";
