/**
 * The shipped configs/clusters/local.yaml (2 stages with their routers, 3
 * expert hosts with uneven shares, one expert replicated) with the f16 wire:
 * the greedy tokens still agree with the single-process engine.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { equivalenceSuite } from "./suite.js";

equivalenceSuite({
  title: "cluster configs/clusters/local.yaml (f16 wire)",
  stages: 2,
  expertHosts: 3,
  clusterFile: (dir) => {
    const text = readFileSync("configs/clusters/local.yaml", "utf8");
    if (!/^wire_dtype: f32$/m.test(text)) throw new Error("configs/clusters/local.yaml: expected a `wire_dtype: f32` line to switch");
    const file = join(dir, "local-f16.yaml");
    writeFileSync(file, text.replace(/^wire_dtype: f32$/m, "wire_dtype: f16"));
    return file;
  },
});
