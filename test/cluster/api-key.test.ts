/**
 * `moe up --api-key` (launch's `apiKey`): the cluster's gateway (a child process)
 * refuses requests without the key with 401 and serves those with it;
 * /health stays open. The same cluster runs with a short `sequence_idle`: a
 * sequence whose client died without releasing it is reclaimed on every stage
 * and counted in the gateway's /metrics.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterMonitor, launch, stageEndpoints, type RunningCluster } from "../../control/index.js";
import { PipelineClient } from "../../stages/index.js";
import { waitFor } from "../gateway/helpers.js";
import { alive, tempDir } from "./helpers.js";

describe("cluster gateway with an API key and an 8 s sequence idle timeout", () => {
  const tmp = tempDir("moe-apikey-");
  let cluster: RunningCluster | undefined;
  let pids: number[] = [];

  beforeAll(async () => {
    cluster = await launch({ clusterFile: "configs/clusters/local.yaml", runDir: join(tmp.dir, "run"), gatewayPort: 0, apiKey: "s3cret-key", timeouts: { sequenceIdleMs: 8000 } });
    pids = cluster.states().map((s) => s.pid);
  });

  afterAll(async () => {
    await cluster?.stop("test finished");
    tmp.cleanup();
    expect(pids.filter(alive)).toEqual([]);
  });

  it("answers 401 without the key, 200 with it; /health needs none", async () => {
    const url = cluster!.gatewayUrl!;
    const body = JSON.stringify({ prompt: [1, 300, 301], max_tokens: 3, temperature: 0 });
    const headers = { "content-type": "application/json" };
    const no = await fetch(`${url}/v1/completions`, { method: "POST", headers, body });
    expect(no.status).toBe(401);
    expect(((await no.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    const wrong = await fetch(`${url}/v1/completions`, { method: "POST", headers: { ...headers, authorization: "Bearer nope" }, body });
    expect(wrong.status).toBe(401);
    const yes = await fetch(`${url}/v1/completions`, { method: "POST", headers: { ...headers, authorization: "Bearer s3cret-key" }, body });
    expect(yes.status).toBe(200);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it("a sequence whose client died without releasing it is reclaimed on every stage and counted in /metrics", async () => {
    const url = cluster!.gatewayUrl!;
    const metrics = async () => {
      const res = await fetch(`${url}/metrics`, { headers: { authorization: "Bearer s3cret-key" } });
      return Number(/^moe_reclaimed_sequences_total (\S+)$/m.exec(await res.text())?.[1] ?? NaN);
    };
    expect(await metrics()).toBe(0);
    const monitor = new ClusterMonitor(cluster!.runtime);
    try {
      const orphan = new PipelineClient({ endpoints: stageEndpoints(cluster!.runtime), vocabSize: cluster!.runtime.model.vocabSize, name: "orphan" });
      await orphan.step([{ seq: 4_000_000_001, pos: 0, tokens: [1, 300, 301] }]);
      await orphan.close(); // gone without seq.release
      expect((await monitor.poll()).filter((s) => s.status?.stage).every((s) => s.status!.stage!.live === 1)).toBe(true);
      expect(await waitFor(async () => (await monitor.poll()).every((s) => (s.status?.stage?.live ?? 0) === 0), 20_000)).toBe(true);
      expect(await waitFor(async () => (await metrics()) === 1, 5_000)).toBe(true);
    } finally {
      await monitor.close();
    }
  });
});
