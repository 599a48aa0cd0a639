/**
 * A block's onnxruntime session(s) behind one `run`: synchronous native runs where the binding allows
 * ({@link NativeSession}), the public async API otherwise.
 */
import type * as ort from "onnxruntime-node";
import type { NativeSession, RunOutputs } from "./native-session.js";

/** One session of a block: how it runs. */
export interface GraphRunner {
  /** Run; resolves with every output. */
  run(feeds: ort.InferenceSession.FeedsType): Promise<RunOutputs>;
  release(): Promise<void>;
}

/**
 * An async run on a synchronous session first lets the event loop turn when this thread has held it
 * for longer than this, ms (see {@link turnIfHeld}).
 */
export const MAX_LOOP_HOLD_MS = 10;

/** When this thread's event loop was last seen turning (a probe was armed then); -1: no probe armed. */
let heldSince = -1;
const probe = (): void => {
  heldSince = -1;
};

/**
 * Synchronous runs never give the event loop a turn between them, where the public API gave it one per
 * run (its `setImmediate`). A step of many runs (a long prefill, an expert host's batch of experts at
 * full width) would hold sockets, timers and heartbeats for its whole duration; so an async run lets
 * the loop turn first once it has been held for {@link MAX_LOOP_HOLD_MS} since it last turned. A
 * decode step (a few ms) never pays for it. The loop's turns are seen by a probe `setImmediate`
 * armed at the first run after each turn.
 */
export async function turnIfHeld(): Promise<void> {
  const now = performance.now();
  if (heldSince < 0) {
    heldSince = now;
    setImmediate(probe);
    return;
  }
  if (now - heldSince > MAX_LOOP_HOLD_MS) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A runner over a {@link NativeSession}: synchronous runs; async ones let the loop turn when held too long. */
export function nativeRunner(s: NativeSession): GraphRunner {
  return {
    run: async (feeds) => {
      await turnIfHeld();
      return s.run(feeds);
    },
    release: async () => s.release(),
  };
}

/** A runner over the public API's session. */
export function publicRunner(s: ort.InferenceSession): GraphRunner {
  return { run: (feeds) => s.run(feeds) as Promise<RunOutputs>, release: () => s.release() };
}

/**
 * A block's graph in one session with the block's threads, and for a small graph at threads > 1 a
 * second one-thread session that runs the small runs (`ComputeOptions.singleThreadRows`).
 */
export class BlockSession {
  constructor(
    private readonly session: GraphRunner,
    private readonly single?: GraphRunner,
    private readonly singleRows = 0,
  ) {}

  /** Whether runs of few rows go to a one-thread session. */
  get hasSingleThread(): boolean {
    return this.single !== undefined;
  }

  private pick(rows: number): GraphRunner {
    return this.single !== undefined && rows <= this.singleRows ? this.single : this.session;
  }

  /** Run `feeds`; `rows` (the rows of activations fed) picks the session. Resolves with every output. */
  run(rows: number, feeds: ort.InferenceSession.FeedsType): Promise<RunOutputs> {
    return this.pick(rows).run(feeds);
  }

  async release(): Promise<void> {
    await this.session.release();
    await this.single?.release();
  }
}
