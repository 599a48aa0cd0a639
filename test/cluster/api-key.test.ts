/**
 * `moe up --api-key` (launch's `apiKey`): the cluster's gateway (a child process)
 * refuses requests without the key with 401 and serves those with it;
 * /health stays open.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launch, type RunningCluster } from "../../control/index.js";
import { alive, tempDir } from "./helpers.js";

describe("cluster gateway with an API key", () => {
  const tmp = tempDir("moe-apikey-");
  let cluster: RunningCluster | undefined;
  let pids: number[] = [];

  beforeAll(async () => {
    cluster = await launch({ clusterFile: "configs/clusters/local.yaml", runDir: join(tmp.dir, "run"), gatewayPort: 0, apiKey: "s3cret-key" });
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
});
