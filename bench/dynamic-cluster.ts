/**
 * The three-host dynamic cluster that `npm run bench -- dynamic` measures and test/cluster/dynamic.test.ts
 * checks, in one place: its cluster file (na: the stage and its router; nb: experts 0-3; nc: replicas of
 * 0-3 and the only copy of 4-7), the `moe node --join` command line of a host, and HTTP load of greedy
 * completions that records each request's outcome.
 */
import type { ModelConfig } from "../model/index.js";

/** The hosts of the cluster. */
export const DYNAMIC_HOSTS = ["na", "nb", "nc"] as const;

/** The same greedy completion every client sends (token ids: no tokenizer needed). */
export const LOAD_PROMPT: readonly number[] = [1, 300, 301, 302];

/**
 * The cluster file (as an object for `yaml.stringify`): `min_hosts: 3`; nb may also take a stage, so that after
 * na is lost too the whole model moves there; experts 0-3 have a replica on nb and nc (rows split 1:1), 4-7 live
 * only on nc.
 */
export function dynamicClusterFile(o: { name: string; model: string; nats: string; config: ModelConfig; threads?: number }): Record<string, unknown> {
  const cfg = o.config;
  const host = (name: string, roles: string[]) => ({ name, device: "cpu-local", roles, threads: o.threads ?? 1 });
  return {
    name: o.name,
    model: o.model,
    dtype: "f32",
    nats: o.nats,
    min_hosts: 3,
    timeouts: { dispatch: "2s" },
    hosts: [host("na", ["stage", "router"]), host("nb", ["stage", "router", "expert"]), host("nc", ["expert"])],
    placement: {
      stages: [{ host: "na", layers: [0, cfg.nLayers] }],
      routers: [{ stage: 0, host: "na" }],
      experts: Array.from({ length: cfg.nLayers * cfg.nExperts }, (_, k) => {
        const [layer, expert] = [Math.floor(k / cfg.nExperts), k % cfg.nExperts];
        return expert < 4 ? { layer, expert, hosts: ["nb", "nc"], weights: [1, 1] } : { layer, expert, hosts: ["nc"] };
      }),
    },
  };
}

/** Arguments after `moe` for one host joining: progress as JSON lines on stdout, heartbeats every 0.5 s. */
export function joinArgs(o: { nats: string; name: string; address: string; dir: string; threads?: number }): string[] {
  return ["node", "--join", o.nats, "--name", o.name, "--address", o.address, "--device", "cpu-local", "--threads", String(o.threads ?? 1), "--dir", o.dir, "--heartbeat", "500", "--json", "--log-level", "warn"];
}

/** One request's outcome: `at` when it ended (ms since the epoch), `ms` its latency. */
export interface LoadResult {
  readonly ok: boolean;
  readonly text: string;
  readonly ms: number;
  readonly at: number;
}

/** Send {@link LOAD_PROMPT} once to the gateway at `url` (its base, without `/v1`). */
export async function completeOnce(url: string, maxTokens = 6): Promise<Omit<LoadResult, "at">> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: LOAD_PROMPT, max_tokens: maxTokens, temperature: 0 }) });
    const body = (await res.json()) as { choices?: { text: string }[]; error?: { message: string } };
    return { ok: res.status === 200, text: body.choices?.[0]?.text ?? `HTTP ${res.status}: ${body.error?.message}`, ms: performance.now() - t0 };
  } catch (e) {
    return { ok: false, text: (e as Error).message, ms: performance.now() - t0 };
  }
}

/** `clients` clients sending {@link completeOnce} back to back, a failed one retried after 0.2 s, until `stop()`. */
export function startLoad(url: string, clients: number): { readonly results: LoadResult[]; stop(): Promise<void> } {
  const results: LoadResult[] = [];
  let stopped = false;
  const workers = Array.from({ length: clients }, async () => {
    while (!stopped) {
      const r = { ...(await completeOnce(url)), at: Date.now() };
      results.push(r);
      if (!r.ok) await new Promise((res) => setTimeout(res, 200)); // a client backing off
    }
  });
  return {
    results,
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
    },
  };
}
