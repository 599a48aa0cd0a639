/**
 * `moe cluster rebalance --nats URL`: ask a dynamic cluster's coordinator to
 * plan afresh over every live host — hosts that joined after the plan was
 * made (standby) included — and put the new plan in force. Sequences in
 * flight on stages that move fail, as after a stage host's loss.
 */
import type { Command } from "commander";
import { connect } from "nats";
import { encodeJson, subjects } from "../control/index.js";
import { parseIntOption } from "./options.js";

async function rebalance(f: { nats: string; timeout: number }): Promise<void> {
  const nc = await connect({ servers: f.nats.split(","), name: "moe-cluster", maxReconnectAttempts: 0 });
  try {
    const r = await nc.request(subjects().rebalance, encodeJson({}), { timeout: f.timeout * 1000 }).catch((e: unknown) => {
      throw new Error(`no answer from a coordinator on ${f.nats} within ${f.timeout} s (is \`moe up\` running?): ${(e as Error).message}`);
    });
    const reply = JSON.parse(new TextDecoder().decode(r.data)) as { version?: number; seconds?: number; hosts?: string[]; error?: string };
    if (reply.error) throw new Error(`rebalance failed: ${reply.error}`);
    console.log(`plan ${reply.version} in force after ${reply.seconds?.toFixed(1)} s over ${reply.hosts?.length} hosts (${reply.hosts?.join(", ")})`);
  } finally {
    await nc.close();
  }
}

/** Attach `moe cluster` to the program. */
export function register(program: Command): void {
  const cluster = program.command("cluster").description("operate a running dynamic cluster (nats:)");
  cluster
    .command("rebalance")
    .description("plan afresh over every live host (hosts that joined later included) and switch to it")
    .requiredOption("--nats <url>", "the cluster's NATS server, e.g. nats://10.0.0.1:4222")
    .option("--timeout <s>", "seconds to wait for the new plan to be in force", parseIntOption("--timeout", 1), 600)
    .action(rebalance);
}
