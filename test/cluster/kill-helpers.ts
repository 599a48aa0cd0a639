/**
 * Helpers of the kill tests: which (layer, expert) each sequence routes to at
 * each step (from the single-process engine's router counts, one sequence at
 * a time), and a driver that advances sequences as independent concurrent
 * requests — one step request per sequence per round — recording tokens,
 * failures and how long each request took.
 */
import type { LocalBackend, StepBackend } from "../../stages/index.js";

/** Per sequence: greedy tokens and, per step, the "layer:expert" pairs its rows were routed to. */
export interface Trace {
  readonly tokens: number[][];
  readonly routes: Set<string>[][];
}

/** Run each sequence alone through the reference and record its tokens and routing per step. */
export async function traceRoutes(ref: LocalBackend, promptIds: readonly number[][], steps: number, seqBase: number): Promise<Trace> {
  const counts = ref.engine.moe.counts;
  const snapshot = () => counts.map((r) => [...r]);
  const tokens: number[][] = [];
  const routes: Set<string>[][] = [];
  for (const [i, p] of promptIds.entries()) {
    const seq = seqBase + i;
    const toks: number[] = [];
    const rs: Set<string>[] = [];
    let item = { seq, pos: 0, tokens: p as readonly number[], sampling: { temperature: 0, topP: 1 } };
    for (let s = 0; s <= steps; s++) {
      const before = snapshot();
      const [r] = await ref.step([item]);
      const used = new Set<string>();
      counts.forEach((row, l) => row.forEach((c, e) => c > before[l]![e]! && used.add(`${l}:${e}`)));
      rs.push(used);
      toks.push(r!.token);
      item = { seq, pos: item.pos + item.tokens.length, tokens: [r!.token], sampling: item.sampling };
    }
    await ref.release([seq]);
    tokens.push(toks);
    routes.push(rs);
  }
  return { tokens, routes };
}

/** What happened to one sequence in {@link runRounds}. */
export interface SequenceOutcome {
  readonly tokens: number[];
  /** The error of the request that failed, if one did. */
  readonly error?: Error;
  /** Round of the failure. */
  readonly failedAt?: number;
  /** Seconds the failed request took. */
  readonly failSeconds?: number;
  /** Longest successful request, seconds. */
  readonly slowestSeconds: number;
}

/**
 * Advance every sequence one step per round, each step its own request, all
 * of a round in flight at once. A failed sequence is released and stops.
 * `beforeRound(k)` runs before round k's requests go out; `duringRound(k)`
 * right after they did.
 */
export async function runRounds(
  client: StepBackend,
  promptIds: readonly number[][],
  steps: number,
  seqBase: number,
  hooks: { beforeRound?: (k: number) => void | Promise<void>; duringRound?: (k: number) => void | Promise<void> } = {},
): Promise<SequenceOutcome[]> {
  const state = promptIds.map((p, i) => ({ seq: seqBase + i, pos: 0, next: p as readonly number[], tokens: [] as number[], slowest: 0, error: undefined as Error | undefined, failedAt: undefined as number | undefined, failSeconds: undefined as number | undefined }));
  for (let k = 0; k <= steps; k++) {
    await hooks.beforeRound?.(k);
    const live = state.filter((s) => !s.error);
    if (!live.length) break;
    const round = Promise.all(
      live.map(async (s) => {
        const t0 = performance.now();
        try {
          const [r] = await client.step([{ seq: s.seq, pos: s.pos, tokens: s.next, ...(s.pos === 0 ? { sampling: { temperature: 0, topP: 1 } } : {}) }]);
          s.slowest = Math.max(s.slowest, (performance.now() - t0) / 1000);
          s.pos += s.next.length;
          s.next = [r!.token];
          s.tokens.push(r!.token);
        } catch (e) {
          s.error = e as Error;
          s.failedAt = k;
          s.failSeconds = (performance.now() - t0) / 1000;
          await client.release([s.seq]);
        }
      }),
    );
    await hooks.duringRound?.(k);
    await round;
  }
  await client.release(state.filter((s) => !s.error).map((s) => s.seq));
  return state.map((s) => ({ tokens: s.tokens, slowestSeconds: s.slowest, ...(s.error ? { error: s.error, failedAt: s.failedAt, failSeconds: s.failSeconds } : {}) }));
}
