/**
 * The expert sessions of an expert host: per layer, the experts it holds in layer-of-experts sessions
 * ({@link ExpertLayerBlock}), so that a message's rows for one layer run in one onnxruntime run per
 * session instead of one per expert. The experts of a layer loaded together (at start, or by one re-plan)
 * share a session (several past `LAYER_SESSION_MAX_BYTES`); where {@link expertSessionsOf} says "expert" each expert is a session of its own
 * (the previous behaviour, one run per expert). Weights live once: in the session that holds them.
 */
import { buildLayerSessions, expertSessionsOf, expertWeights, type ComputeOptions, type ExpertLayerBlock, type ModelConfig, type WeightReader } from "../model/index.js";

const key = (layer: number, expert: number) => `${layer}:${expert}`;

export class ExpertSessions {
  /** Per layer: its sessions. */
  private readonly byLayer = new Map<number, ExpertLayerBlock[]>();
  /** "layer:expert" → the session serving it (held experts only). */
  private readonly held = new Map<string, ExpertLayerBlock>();

  constructor(
    private readonly name: string,
    private readonly config: ModelConfig,
    private readonly compute: ComputeOptions = {},
  ) {}

  /** Whether (layer, expert) is held. */
  holds(layer: number, expert: number): boolean {
    return this.held.has(key(layer, expert));
  }

  /** The session serving (layer, expert), if held. */
  sessionOf(layer: number, expert: number): ExpertLayerBlock | undefined {
    return this.held.get(key(layer, expert));
  }

  /** (layer, expert) pairs held now, sorted. */
  list(): [number, number][] {
    return [...this.held.keys()].map((k) => k.split(":").map(Number) as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }

  /**
   * Load the experts of `experts` not held yet from `weights`: per layer one session (or one per expert
   * with expertSessions "expert"). An expert unloaded earlier whose session still serves others is held
   * again without loading. Checked against the model's shape. @returns how many were added
   */
  async add(experts: readonly (readonly [number, number])[], weights: WeightReader): Promise<number> {
    const fresh = new Map<number, number[]>();
    let n = 0;
    for (const [layer, expert] of experts) {
      if (layer < 0 || layer >= this.config.nLayers || expert < 0 || expert >= this.config.nExperts)
        throw new RangeError(`${this.name}: (layer ${layer}, expert ${expert}) is outside the model (${this.config.nLayers} layers, ${this.config.nExperts} experts)`);
      if (this.holds(layer, expert) || fresh.get(layer)?.includes(expert)) continue;
      n++;
      const dormant = this.byLayer.get(layer)?.find((b) => b.holds(expert));
      if (dormant) this.held.set(key(layer, expert), dormant);
      else fresh.set(layer, [...(fresh.get(layer) ?? []), expert]);
    }
    const perExpert = expertSessionsOf(this.compute) === "expert";
    for (const [layer, list] of fresh)
      for (const part of perExpert ? list.map((e) => [e]) : [list])
        for (const block of await buildLayerSessions(part, (e) => expertWeights(weights, layer, e), this.compute)) {
          this.byLayer.set(layer, [...(this.byLayer.get(layer) ?? []), block]);
          for (const e of block.experts) this.held.set(key(layer, e), block);
        }
    return n;
  }

  /**
   * Stop serving every expert not in `keep`. @returns how many were dropped and the sessions no longer
   * serving any expert (removed here; the caller closes them once no run uses them). A session that
   * still serves some of its experts keeps the others' weights until it serves none.
   */
  retainOnly(keep: readonly (readonly [number, number])[]): { dropped: number; unused: ExpertLayerBlock[] } {
    const want = new Set(keep.map(([l, e]) => key(l, e)));
    let dropped = 0;
    for (const k of [...this.held.keys()])
      if (!want.has(k)) {
        this.held.delete(k);
        dropped++;
      }
    const serving = new Set(this.held.values());
    const unused: ExpertLayerBlock[] = [];
    for (const [layer, blocks] of this.byLayer) {
      const live = blocks.filter((b) => serving.has(b));
      unused.push(...blocks.filter((b) => !serving.has(b)));
      if (live.length) this.byLayer.set(layer, live);
      else this.byLayer.delete(layer);
    }
    return { dropped, unused };
  }

  /** Close every session. */
  async close(): Promise<void> {
    const all = [...this.byLayer.values()].flat();
    this.byLayer.clear();
    this.held.clear();
    for (const b of all) await b.close();
  }
}
