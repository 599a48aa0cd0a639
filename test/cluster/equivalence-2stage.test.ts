/** 2 stages + 4 expert hosts with uneven shares and replicated experts. */
import { writeClusterYaml } from "./helpers.js";
import { equivalenceSuite } from "./suite.js";

const HOSTS = ["ex0", "ex1", "ex2", "ex3"];

equivalenceSuite({
  title: "cluster 2 stages + 4 expert hosts (f32 wire)",
  stages: 2,
  expertHosts: 4,
  tolerance: 1e-5,
  clusterFile: (dir, cfg) =>
    writeClusterYaml(
      dir,
      {
        name: "two-stages",
        stages: [
          [0, cfg.nLayers / 2],
          [cfg.nLayers / 2, cfg.nLayers],
        ],
        expertHosts: HOSTS,
        // uneven: ex0 holds experts 0-3, ex1 4-5, ex2 6, ex3 7; every layer's expert 1 also on ex2 (replica)
        place: (_layer, e) => (e === 1 ? ["ex0", "ex2"] : [e < 4 ? "ex0" : e < 6 ? "ex1" : e === 6 ? "ex2" : "ex3"]),
      },
      cfg,
    ),
});
