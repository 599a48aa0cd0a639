/** 1 stage (all layers, router in-process) + 1 expert host holding every expert; CURVE on. */
import { writeClusterYaml } from "./helpers.js";
import { equivalenceSuite } from "./suite.js";

equivalenceSuite({
  title: "cluster 1 stage + 1 expert host (f32 wire, CURVE)",
  stages: 1,
  expertHosts: 1,
  tolerance: 1e-5,
  clusterFile: (dir, cfg) =>
    writeClusterYaml(dir, { name: "one-stage", stages: [[0, cfg.nLayers]], expertHosts: ["experts"], place: () => ["experts"], curve: true }, cfg),
});
