/** `moe node` (register; the action is in node-run.ts). */
import type { Command } from "commander";
import { lazy } from "./lazy.js";
import { parseIntOption } from "./options.js";

/** Attach `moe node` to the program. */
export function register(program: Command): void {
  program
    .command("node")
    .description("run one process of a static cluster from runtime.json, or join a dynamic cluster over NATS (--join)")
    .option("--runtime <file>", "static: runtime.json written by `moe up` (or the run directory holding it)")
    .option("--process <name>", "static: process name in runtime.json (`moe status` lists them)")
    .option("--parent-pid <pid>", "static: exit when this process is gone or stdin closes (set by `moe up`)", parseIntOption("--parent-pid", 1))
    .option("--model <path>", "static: this host's copy of the cluster's model, or its part from `moe model slice` (default: the path in runtime.json)")
    .option("--stdin-watch", "static: exit when stdin closes (set by `moe up` for hosts started over ssh)")
    .option("--pid-file <file>", "static: write this process's pid here (removed at exit; `moe down` uses it)")
    .option("--join <url>", "dynamic: join the cluster whose coordinator (`moe up` with nats:) uses this NATS server, e.g. nats://10.0.0.1:4222")
    .option("--name <name>", "dynamic: this host's name in the cluster (unique)")
    .option("--address <ip>", "dynamic: address the other hosts reach this one at (default: its first non-loopback IPv4)")
    .option("--device <kind>", "dynamic: catalogue device this host is (`moe plan --devices` lists them), e.g. h100-80gb, cpu-2s")
    .option("--memory <size>", "dynamic: memory for the model, e.g. 64GiB (instead of --device)")
    .option("--memory-bandwidth <rate>", "dynamic: memory bandwidth, e.g. 100GB/s (with --memory)")
    .option("--compute <flops>", "dynamic: peak compute, e.g. 2TFLOP/s (with --memory; default 50 GFLOP/s per thread)")
    .option("--threads <n>", "dynamic: onnxruntime threads per process (default: this host's cores)", parseIntOption("--threads", 1))
    .option("--roles <list>", "dynamic: roles this host may take, comma-separated (stage,expert,router; default all)")
    .option("--dir <dir>", "dynamic: working directory: this host's parts of the model (<model>.parts/), runtime.json (default .moe/node/<name>)")
    .option("--keys <dir>", "dynamic: the cluster's CURVE keys (`moe keys --out DIR`, copied here) for `curve: true`")
    .option("--base-port <port>", "dynamic: first of 8 consecutive ports offered to the plan (default: a free range)", parseIntOption("--base-port", 1))
    .option("--heartbeat <ms>", "dynamic: heartbeat period (default 1000)", parseIntOption("--heartbeat", 50))
    .option("--json", "dynamic: print events as JSON lines")
    .option("--log-level <level>", "pino log level (stderr)", "info")
    .addHelpText(
      "after",
      `
Static: prints {"event":"ready",...} on stdout once it serves; SIGTERM stops it cleanly.
Dynamic: holds no role until the coordinator's plan gives it one; fetches the part of the model the plan gives it
(only what its --dir lacks).
Examples:
  moe node --runtime .moe/run/local/runtime.json --process expert1
  moe node --join nats://10.0.0.1:4222 --name gpu-a --device h100-80gb --dir /var/lib/moe
  moe node --join nats://10.0.0.1:4222 --name cpu-b --memory 64GiB --memory-bandwidth 80GB/s --threads 16`,
    )
    .action(lazy(async () => (await import("./node-run.js")).action));
}
