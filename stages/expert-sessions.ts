/**
 * The expert sessions of an expert host: per layer, the experts it holds in layer-of-experts sessions
 * ({@link ExpertLayerBlock}), so that a message's rows for one layer run in one onnxruntime run per
 * session instead of one per expert. The experts of a layer loaded together (at start, or by one re-plan)
 * share a session (several past `LAYER_SESSION_MAX_BYTES`); where {@link expertSessionsOf} says "expert" each expert is a session of its own
 * (the previous behaviour, one run per expert). Weights live once: in the session that holds them. A
 * re-plan that moves some of a session's experts away rebuilds it with the experts it keeps ({@link ExpertSessions.rebuild}),
 * so that their weights are freed.
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
   * Stop serving every expert not in `keep` (at once: rows for them fail from now on). @returns how many
   * were dropped, the sessions no longer serving any expert (removed here; the caller closes them once no
   * run uses them) and the sessions that still serve some of their experts but hold dropped ones' weights
   * too (the caller rebuilds them with {@link rebuild} to free those weights).
   */
  retainOnly(keep: readonly (readonly [number, number])[]): { dropped: number; unused: ExpertLayerBlock[]; partial: { layer: number; block: ExpertLayerBlock }[] } {
    const want = new Set(keep.map(([l, e]) => key(l, e)));
    let dropped = 0;
    for (const k of [...this.held.keys()])
      if (!want.has(k)) {
        this.held.delete(k);
        dropped++;
      }
    const serving = new Set(this.held.values());
    const unused: ExpertLayerBlock[] = [];
    const partial: { layer: number; block: ExpertLayerBlock }[] = [];
    for (const [layer, blocks] of this.byLayer) {
      const live = blocks.filter((b) => serving.has(b));
      unused.push(...blocks.filter((b) => !serving.has(b)));
      for (const block of live) if (this.servedBy(layer, block).length < block.experts.length) partial.push({ layer, block });
      if (live.length) this.byLayer.set(layer, live);
      else this.byLayer.delete(layer);
    }
    return { dropped, unused, partial };
  }

  /**
   * Replace `old` (a session of `layer` on this host that holds experts it no longer serves) by sessions of only the
   * experts it still serves, read from `weights` as at start-up. `old` keeps serving them while the new
   * sessions are built; the swap is one synchronous step, so a batch planned before it runs on `old` and
   * every later one on the new sessions. @returns the layer, `old` (removed here: the caller closes it once no
   * batch that may use it is running), the experts of the new sessions and their weight bytes; nothing is
   * changed when building fails
   */
  async rebuild(layer: number, old: ExpertLayerBlock, weights: WeightReader): Promise<{ layer: number; old: ExpertLayerBlock; experts: number[]; weightBytes: number }> {
    const kept = this.servedBy(layer, old);
    const fresh = await buildLayerSessions(kept, (e) => expertWeights(weights, layer, e), this.compute);
    // the swap (no await from here on): experts still served by `old` move to the new sessions
    const blocks = this.byLayer.get(layer) ?? [];
    this.byLayer.set(layer, [...blocks.filter((b) => b !== old), ...fresh]);
    for (const b of fresh) for (const e of b.experts) if (this.held.get(key(layer, e)) === old) this.held.set(key(layer, e), b);
    return { layer, old, experts: kept, weightBytes: fresh.reduce((a, b) => a + b.weightBytes, 0) };
  }

  /** Experts whose weights the sessions hold (served or not), and those weights' bytes as stored ({@link ExpertLayerBlock.weightBytes}). */
  resident(): { experts: number; weightBytes: number } {
    const all = [...this.byLayer.values()].flat();
    return { experts: all.reduce((a, b) => a + b.experts.length, 0), weightBytes: all.reduce((a, b) => a + b.weightBytes, 0) };
  }

  /** The experts of `block` (of `layer`) it serves now, in its order. */
  private servedBy(layer: number, block: ExpertLayerBlock): number[] {
    return block.experts.filter((e) => this.held.get(key(layer, e)) === block);
  }

  /** Close every session. */
  async close(): Promise<void> {
    const all = [...this.byLayer.values()].flat();
    this.byLayer.clear();
    this.held.clear();
    for (const b of all) await b.close();
  }
}
