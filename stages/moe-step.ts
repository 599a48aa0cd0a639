/**
 * The port a stage host needs for the MoE step of each layer. Stages define it; the router folder
 * implements it in process (RouterCore, over ZeroMQ to the expert hosts) and over the wire
 * (RemoteRouter, to a router process); `control/` plugs one in. Stages never import the router.
 */
export interface MoeStep {
  /**
   * Combined MoE output y `[N, d_model]` of `layer` for the pre-MoE normed rows m `[N, d_model]`.
   * @param seq sequence id per row `[N]`, @param pos position per row `[N]` (labels for the expert hosts)
   * @param deadline absolute, unix ms
   */
  moe(layer: number, m: Float32Array, seq: Uint32Array, pos: Uint32Array, deadline: number): Promise<Float32Array>;
}
