/**
 * Helpers of the multi-process cluster tests: cluster YAMLs with explicit
 * placements written to a temp dir, a launcher wrapper that records every
 * child pid, the single-process reference (LocalBackend on the same weights),
 * batched lock-step comparison of logits and greedy tokens, and checks that
 * nothing is left running.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { expect } from "vitest";
import { ClusterMonitor, launch, stageEndpoints, type LaunchOptions, type ProcessState, type RunningCluster } from "../../control/index.js";
import { Engine, openModel, type ModelConfig } from "../../model/index.js";
import { ensureTinyModel } from "../../factory/index.js";
import { LocalBackend, PipelineClient, type StepBackend, type StepItem, type StepResult } from "../../stages/index.js";
import { clientCurve, loadClusterKeys } from "../../transport/index.js";

/** The tiny model every cluster test uses. */
export const MODEL_DIR = ensureTinyModel();

/** A fresh temp dir and its removal. */
export function tempDir(prefix = "moe-cluster-"): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What a test cluster looks like. */
export interface TestCluster {
  readonly name: string;
  /** Layer ranges of the stages, in order. */
  readonly stages: readonly (readonly [number, number])[];
  /** Expert host names. */
  readonly expertHosts: readonly string[];
  /** Hosts holding (layer, expert), in preference order. */
  readonly place: (layer: number, expert: number) => readonly string[];
  readonly wireDtype?: "f32" | "f16";
  readonly curve?: boolean;
  readonly timeouts?: { readonly step?: string; readonly dispatch?: string };
}

/** Write the cluster YAML (explicit placement, every host on 127.0.0.1, one thread each). */
export function writeClusterYaml(dir: string, c: TestCluster, cfg: ModelConfig): string {
  const host = (name: string, roles: string[]) => ({ name, device: "cpu-local", address: "127.0.0.1", roles, threads: 1 });
  const doc = {
    name: c.name,
    model: MODEL_DIR,
    dtype: "f32",
    wire_dtype: c.wireDtype ?? "f32",
    curve: c.curve ?? false,
    ...(c.timeouts ? { timeouts: c.timeouts } : {}),
    hosts: [...c.stages.map((_, i) => host(`stage${i}`, ["stage", "router"])), ...c.expertHosts.map((h) => host(h, ["expert"]))],
    placement: {
      stages: c.stages.map((layers, i) => ({ host: `stage${i}`, layers: [...layers] })),
      routers: c.stages.map((_, i) => ({ stage: i, host: `stage${i}` })),
      experts: Array.from({ length: cfg.nLayers * cfg.nExperts }, (_, k) => {
        const layer = Math.floor(k / cfg.nExperts);
        const expert = k % cfg.nExperts;
        return { layer, expert, hosts: [...c.place(layer, expert)] };
      }),
    },
  };
  const file = join(dir, `${c.name}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

/** A started cluster plus everything a test needs to stop it and check it. */
export interface Started {
  readonly cluster: RunningCluster;
  readonly client: StepBackend;
  /** Every child pid ever started. */
  readonly pids: readonly number[];
  readonly monitor: ClusterMonitor;
  stop(): Promise<void>;
}

/** Launch a cluster file (no gateway, keep going when a child dies) and connect a pipeline client. */
export async function startCluster(file: string, runDir: string, opts: Partial<LaunchOptions> = {}): Promise<Started> {
  mkdirSync(runDir, { recursive: true });
  const cluster = await launch({ clusterFile: file, runDir, gateway: false, keepGoing: true, readyTimeoutMs: 100_000, graceMs: 5000, loadIntervalMs: 60_000, ...opts });
  const rt = cluster.runtime;
  const curve = rt.curve ? clientCurve(loadClusterKeys(rt.curve.keysDir)) : undefined;
  const client = new PipelineClient({ endpoints: stageEndpoints(rt), vocabSize: rt.model.vocabSize, name: "test-client", stepDeadlineMs: rt.timeouts.stepMs, curve });
  const monitor = new ClusterMonitor(rt, { curve, timeoutMs: 1000 });
  const pids = cluster.states().map((s) => s.pid);
  return {
    cluster,
    client,
    pids,
    monitor,
    stop: async () => {
      await client.close();
      await monitor.close();
      await cluster.stop();
    },
  };
}

/** True when a pid names a live process (zombies included). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The single-process reference on the same weights. */
export async function reference(): Promise<{ backend: LocalBackend; config: ModelConfig; close(): Promise<void> }> {
  const m = openModel(MODEL_DIR);
  const engine = await Engine.create(m.config, m.weights, { threads: 1 });
  const backend = new LocalBackend(engine);
  return {
    backend,
    config: m.config,
    close: async () => {
      await backend.close();
      m.close();
    },
  };
}

/** `n` prompts of different lengths (deterministic ids, BOS first). */
export function prompts(cfg: ModelConfig, lengths: readonly number[]): number[][] {
  return lengths.map((len, i) => [cfg.bosId, ...Array.from({ length: len - 1 }, (_, j) => 100 + ((i * 389 + j * 97) % (cfg.vocabSize - 200)))]);
}

/** max|a − b| / max|b| over two equally long arrays. */
export function relMaxError(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return m === 0 ? d : d / m;
}

/** Result of {@link lockstep}. */
export interface Comparison {
  /** Worst relative max error of the logits over every step (prefill included). */
  readonly maxRelError: number;
  /** Worst of the prefill step alone. */
  readonly prefillRelError: number;
  /** Greedy tokens per sequence, cluster and reference. */
  readonly tokens: number[][];
  readonly refTokens: number[][];
  /** Decode steps run after the prefill. */
  readonly steps: number;
  /** Seconds of the cluster's steps (prefill + decode). */
  readonly clusterSeconds: number;
}

/**
 * Run every sequence in every step, batched: one prefill step of all prompts,
 * then `steps` decode steps, on the cluster and on the reference, each fed
 * its own greedy tokens, comparing logits at every step.
 */
export async function lockstep(cluster: StepBackend, ref: StepBackend, promptIds: readonly number[][], steps: number, seqBase: number): Promise<Comparison> {
  const greedy = { temperature: 0, topP: 1 };
  const seqs = promptIds.map((_, i) => seqBase + i);
  let maxRel = 0;
  let prefillRel = 0;
  const tokens = promptIds.map(() => [] as number[]);
  const refTokens = promptIds.map(() => [] as number[]);
  let items: StepItem[] = promptIds.map((p, i) => ({ seq: seqs[i]!, pos: 0, tokens: p, sampling: greedy, wantLogits: true }));
  let refItems = items;
  let clusterSeconds = 0;
  for (let s = 0; s <= steps; s++) {
    const t0 = performance.now();
    const a: StepResult[] = await cluster.step(items);
    clusterSeconds += (performance.now() - t0) / 1000;
    const b: StepResult[] = await ref.step(refItems);
    a.forEach((r, i) => {
      const e = relMaxError(r.logits!, b[i]!.logits!);
      maxRel = Math.max(maxRel, e);
      if (s === 0) prefillRel = Math.max(prefillRel, e);
      tokens[i]!.push(r.token);
      refTokens[i]!.push(b[i]!.token);
    });
    items = items.map((it, i) => ({ seq: it.seq, pos: it.pos + it.tokens.length, tokens: [a[i]!.token], wantLogits: true }));
    refItems = refItems.map((it, i) => ({ seq: it.seq, pos: it.pos + it.tokens.length, tokens: [b[i]!.token], wantLogits: true }));
  }
  await cluster.release(seqs);
  await ref.release(seqs);
  return { maxRelError: maxRel, prefillRelError: prefillRel, tokens, refTokens, steps, clusterSeconds };
}

/** Stage processes' live KV sequences and in-flight dispatch rows, as their control endpoints report. */
export async function stageLeftovers(monitor: ClusterMonitor): Promise<{ live: number; inflightRows: number; states: readonly ProcessState[] }> {
  const states = await monitor.poll();
  let live = 0;
  let inflightRows = 0;
  for (const s of states) {
    live += s.status?.stage?.live ?? 0;
    inflightRows += s.status?.stage?.inflightRows ?? 0;
  }
  return { live, inflightRows, states };
}

/** Append measured figures to $MOE_FIGURES/<name>.json when that variable is set (for reports). */
export function recordFigures(name: string, figures: Record<string, unknown>): void {
  const dir = process.env.MOE_FIGURES;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(figures, null, 2) + "\n");
}

/**
 * Stop a test cluster and its reference, remove its temp dir, and check that
 * none of `pids` (default: the processes the cluster started) is still alive.
 */
export async function tearDown(
  c: Started | undefined,
  ref: { close(): Promise<void> } | undefined,
  tmp: { cleanup(): void },
  pids: Iterable<number> = c?.pids ?? [],
): Promise<void> {
  await c?.stop();
  await ref?.close();
  tmp.cleanup();
  for (const pid of pids) expect(alive(pid), `process ${pid} is still alive after stop`).toBe(false);
}
