/**
 * The expert-host role of a cluster process: an ExpertHost serving the experts placed on it, and the two
 * phases of a re-plan (load the experts it gains while serving; unload those it loses, rebuilding layer
 * sessions so their weights are freed).
 */
import type { Logger } from "pino";
import { ExpertHost, type UnloadReport } from "../stages/index.js";
import { serverCurve, type ClusterKeys } from "../transport/index.js";
import { openChecked, type Role } from "./node-role.js";
import type { Runtime, RuntimeProcess } from "./runtime.js";

/** Start the expert host of process `p`. */
export async function startExperts(runtime: Runtime, p: RuntimeProcess, keys: ClusterKeys | undefined, logger: Logger): Promise<Role> {
  const m = openChecked(runtime, p);
  try {
    const host = await ExpertHost.start({
      // the cluster host's name: routers' errors and replies name the host
      name: p.host,
      config: m.config,
      weights: m.weights,
      experts: p.experts ?? [],
      endpoint: p.bind,
      compute: { threads: p.threads, executionProvider: p.executionProvider },
      wireDtype: runtime.wireDtype,
      curve: keys ? serverCurve(keys) : undefined,
      logger,
    });
    return {
      endpoint: host.endpoint,
      status: (base) => {
        const resident = host.resident();
        return { ...base, expert: { experts: host.experts().length, ...host.batcher.stats, residentExperts: resident.experts, residentWeightBytes: resident.weightBytes } };
      },
      prepare: async (next, q) => {
        // a dynamic host may have received a further part with the experts the new plan adds: read them from the model as it is on disk now
        const fresh = (q.experts ?? []).filter(([l, e]) => !host.experts().some(([hl, he]) => hl === l && he === e));
        let n = 0;
        if (fresh.length) {
          const now = openChecked(next, q);
          try {
            n = await host.addExperts(fresh, now.weights);
          } finally {
            now.close();
          }
        }
        if (n) logger.info({ loaded: n }, "loaded the experts the new plan placed here");
      },
      activate: async (next, q) => {
        const keep = q.experts ?? [];
        if (!host.experts().some(([l, e]) => !keep.some(([kl, ke]) => kl === l && ke === e))) return;
        // the experts kept by a layer session that loses some are read again (its session is rebuilt with only
        // them): from the model as it is on disk now (a dynamic host's parts of this plan hold every expert it keeps)
        const now = openChecked(next, q);
        let r: UnloadReport;
        try {
          r = await host.retainOnly(keep, now.weights);
        } finally {
          now.close();
        }
        const rss = process.memoryUsage.rss();
        const { before, after } = r.residentWeightBytes;
        logger.info(
          { unloaded: r.unloaded, closedSessions: r.closedSessions, rebuiltSessions: r.rebuilt.length, rebuildMs: Math.round(r.rebuildMs), residentWeightBytes: after, freedWeightBytes: before - after, rssBytes: rss },
          "unloaded the experts the new plan moved away",
        );
        for (const f of r.failed)
          logger.warn({ layer: f.layer, experts: f.experts, err: f.error }, "could not rebuild a layer session without the experts moved away: it keeps serving, and keeps their weights until the next re-plan");
      },
      close: async () => {
        await host.close();
        m.close();
      },
    };
  } catch (e) {
    m.close();
    throw e;
  }
}
