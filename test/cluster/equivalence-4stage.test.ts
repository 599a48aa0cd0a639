/** 4 stages (one layer each) + 4 expert hosts, experts spread round-robin. */
import { writeClusterYaml } from "./helpers.js";
import { equivalenceSuite } from "./suite.js";

equivalenceSuite({
  title: "cluster 4 stages + 4 expert hosts (f32 wire)",
  stages: 4,
  expertHosts: 4,
  tolerance: 1e-5,
  clusterFile: (dir, cfg) =>
    writeClusterYaml(
      dir,
      {
        name: "four-stages",
        stages: Array.from({ length: 4 }, (_, i) => [(i * cfg.nLayers) / 4, ((i + 1) * cfg.nLayers) / 4] as const),
        expertHosts: ["ex0", "ex1", "ex2", "ex3"],
        place: (layer, e) => [`ex${(layer + e) % 4}`],
      },
      cfg,
    ),
});
