/**
 * The Prometheus series of a gateway's `/metrics`: one list of names and labels, the contract
 * between the gateway (which exports them, gateway/metrics.ts) and the load tester (which reads
 * them, loadtest/server-metrics.ts). Both import it from here, so a rename reaches both; the
 * cluster load-test runs the load tester against a real gateway and checks none is missing.
 * Units are in the names (`_seconds`, `_total` counts); see the README's metrics table.
 */

/** Series names. */
export const METRIC_NAMES = Object.freeze({
  /** Gauge: requests waiting for admission. */
  queueDepth: "moe_queue_depth",
  /** Gauge: sequences admitted and generating (prefill or decode). */
  running: "moe_running_sequences",
  /** Gauge: sequences holding a KV cache in the backend. */
  kvSequences: "moe_kv_sequences",
  /** Counter: sequences the stages freed after they sat idle past `timeouts.sequence_idle` (a client that never released them). */
  reclaimed: "moe_reclaimed_sequences_total",
  /** Gauge: micro-batches in flight in the backend pipeline. */
  inFlight: "moe_inflight_steps",
  /** Histogram: request arrival → first token, seconds. */
  ttft: "moe_ttft_seconds",
  /** Histogram: gap between consecutive tokens of one sequence, seconds. */
  itl: "moe_itl_seconds",
  /** Histogram: one backend step (micro-batch), seconds. */
  step: "moe_step_seconds",
  /** Counter: tokens generated. */
  generated: "moe_generated_tokens_total",
  /** Counter: prompt tokens prefilled. */
  prompt: "moe_prompt_tokens_total",
  /** Gauge: generated tokens per second over a recent window. */
  tokensPerS: "moe_generated_tokens_per_second",
  /** Counter `{status}`: generation requests by HTTP status. */
  requests: "moe_requests_total",
  /** Counter `{layer, expert}`: tokens routed to each expert. */
  expertTokens: "moe_expert_tokens_total",
  /** Counter `{stage, host}`: busy time of each pipeline stage on each host, seconds. */
  stageBusy: "moe_stage_busy_seconds_total",
  /** Counter `{host}`: errors per host. */
  hostErrors: "moe_host_errors_total",
  /** Gauge `{host}`: 1 up, 0 down. */
  hostUp: "moe_host_up",
  /** Gauge `{host}`: expert weights the host's expert sessions hold, bytes as stored (expert hosts only). */
  hostExpertWeightBytes: "moe_host_expert_weight_bytes",
  /** Gauge `{host}`: (layer, expert) FFNs whose weights those sessions hold. */
  hostResidentExperts: "moe_host_resident_experts",
  /** Counter: start-up warm-up passes run before the gateway listened (gateway/warmup.ts). */
  warmupPasses: "moe_warmup_passes_total",
  /** Counter: tokens the warm-up generated (not in `moe_generated_tokens_total`). */
  warmupTokens: "moe_warmup_tokens_total",
  /** Gauge: wall time of the start-up warm-up, seconds. */
  warmupSeconds: "moe_warmup_seconds",
});

/** Label names of the labelled series above. */
export const METRIC_LABELS = Object.freeze({
  status: "status",
  layer: "layer",
  expert: "expert",
  stage: "stage",
  host: "host",
});

/** A key of {@link METRIC_NAMES}. */
export type MetricKey = keyof typeof METRIC_NAMES;
