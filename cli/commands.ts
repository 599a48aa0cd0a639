/** Registry of `moe` sub-commands: one import and one call per command file. */
import type { Command } from "commander";
import { register as registerGenerate } from "./generate.js";
import { register as registerKeys } from "./keys.js";
import { register as registerModel } from "./model.js";
import { register as registerLoadtest } from "./loadtest.js";
import { register as registerDataset } from "./dataset.js";
import { register as registerPlan } from "./plan.js";
import { register as registerServe } from "./serve.js";
import { register as registerUp } from "./up.js";
import { register as registerNode } from "./node.js";
import { register as registerStatus } from "./status.js";
import { register as registerDown } from "./down.js";
import { register as registerCluster } from "./cluster.js";
import { register as registerDemo } from "./demo.js";
import { register as registerBench } from "./bench.js";

/** Attach every sub-command to `program`. */
export function registerCommands(program: Command): void {
  void program;
  registerModel(program);
  registerGenerate(program);
  registerKeys(program);
  registerLoadtest(program);
  registerDataset(program);
  registerPlan(program);
  registerServe(program);
  registerUp(program);
  registerNode(program);
  registerStatus(program);
  registerDown(program);
  registerCluster(program);
  registerDemo(program);
  registerBench(program);
}
