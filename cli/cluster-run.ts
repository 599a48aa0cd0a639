/**
 * `moe cluster rebalance --nats URL`: ask a dynamic cluster's coordinator to
 * plan afresh over every live host — hosts that joined after the plan was
 * made (standby) included — and put the new plan in force. Sequences in
 * flight on stages that move fail, as after a stage host's loss.
 */
import { connect } from "nats";
import { encodeJson, subjects } from "../control/index.js";

export async function rebalance(f: { nats: string; timeout: number }): Promise<void> {
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
