/**
 * A {@link StepBackend} whose pipeline can be replaced while the gateway
 * runs: after a re-plan moved a stage (its host was lost), the gateway keeps
 * its HTTP socket and scheduler and steps go to the new pipeline. Steps in
 * flight on the old one fail with an error that says why; sequences started
 * there are unknown to the new stages and fail too (their KV caches were on
 * the lost host); new requests are served by the new pipeline.
 */
import type { StepBackend, StepItem, StepResult } from "../stages/index.js";

export class SwitchingBackend implements StepBackend {
  private generation = 0;

  constructor(private current: StepBackend) {}

  get maxInFlight(): number {
    return this.current.maxInFlight;
  }

  async step(items: readonly StepItem[], opts?: { deadline?: number }): Promise<StepResult[]> {
    const gen = this.generation;
    try {
      return await this.current.step(items, opts);
    } catch (e) {
      if (gen === this.generation) throw e;
      throw new Error(`the cluster was re-planned while this step ran (a stage host was lost): ${(e as Error).message}`, { cause: e });
    }
  }

  release(seqs: readonly number[]): Promise<void> {
    return this.current.release(seqs);
  }

  /** Route steps to `next` from now on; the old backend is closed (its pending steps reject). */
  async replace(next: StepBackend): Promise<void> {
    const old = this.current;
    this.current = next;
    this.generation++;
    await old.close();
  }

  close(): Promise<void> {
    return this.current.close();
  }
}
