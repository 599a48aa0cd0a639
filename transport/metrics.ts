/**
 * Per-peer transport counters: messages and bytes in and out, rejected
 * frames and errors (by code), and a latency histogram (hdr-histogram-js).
 * `snapshot()` returns plain data; the gateway turns it into Prometheus.
 */
import * as hdr from "hdr-histogram-js";

/** Latency percentiles, milliseconds. */
export interface LatencySnapshot {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Counters of one peer (or of all peers, in `totals`). */
export interface PeerSnapshot {
  /** Frames received, valid or not. */
  messagesIn: number;
  /** Frames sent. */
  messagesOut: number;
  /** Bytes received, all frames (without routing ids). */
  bytesIn: number;
  /** Bytes sent. */
  bytesOut: number;
  /** Frames rejected by validation (a subset of `messagesIn`). */
  rejected: number;
  /** Rejections by error code (`MALFORMED_FRAME`, `SCHEMA_MISMATCH`, ...). */
  rejectedByCode: Record<string, number>;
  /** Failures other than rejections: send errors, remote errors, deadlines, late replies. */
  errors: number;
  /** Errors by code. */
  errorsByCode: Record<string, number>;
  /** Server: receipt-to-reply time; client: request round trip. */
  latency: LatencySnapshot;
}

/** Everything the metrics know, as plain data. */
export interface TransportMetricsSnapshot {
  peers: Record<string, PeerSnapshot>;
  totals: PeerSnapshot;
}

/** Label that collects peers beyond `maxPeers`. */
export const OTHER_PEERS = "(other)";

const HIGHEST_US = 600e6; // 10 minutes, microseconds

class PeerStats {
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  rejected = 0;
  errors = 0;
  readonly rejectedByCode = new Map<string, number>();
  readonly errorsByCode = new Map<string, number>();
  private histogram: hdr.Histogram | undefined;

  record(ms: number): void {
    this.histogram ??= hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 2, autoResize: false });
    this.histogram.recordValue(Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000))));
  }

  latency(): LatencySnapshot {
    const h = this.histogram;
    if (h === undefined || h.totalCount === 0) return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 };
    const ms = (us: number): number => us / 1000;
    return {
      count: h.totalCount,
      meanMs: ms(h.mean),
      p50Ms: ms(h.getValueAtPercentile(50)),
      p90Ms: ms(h.getValueAtPercentile(90)),
      p99Ms: ms(h.getValueAtPercentile(99)),
      maxMs: ms(h.maxValue),
    };
  }

  snapshot(): PeerSnapshot {
    return {
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      rejected: this.rejected,
      rejectedByCode: Object.fromEntries(this.rejectedByCode),
      errors: this.errors,
      errorsByCode: Object.fromEntries(this.errorsByCode),
      latency: this.latency(),
    };
  }

  free(): void {
    this.histogram?.destroy();
    this.histogram = undefined;
  }
}

function bump(map: Map<string, number>, code: string): void {
  map.set(code, (map.get(code) ?? 0) + 1);
}

/** Counters per peer label. Bounded: peers beyond `maxPeers` share {@link OTHER_PEERS}. */
export class TransportMetrics {
  private readonly peers = new Map<string, PeerStats>();
  private readonly totals = new PeerStats();

  /** @param maxPeers most distinct peer labels kept (default 1024) */
  constructor(private readonly maxPeers = 1024) {}

  private stats(peer: string): PeerStats {
    let s = this.peers.get(peer);
    if (s === undefined) {
      const label = this.peers.size >= this.maxPeers ? OTHER_PEERS : peer;
      s = this.peers.get(label);
      if (s === undefined) {
        s = new PeerStats();
        this.peers.set(label, s);
      }
    }
    return s;
  }

  /** One frame of `bytes` received from `peer`. */
  received(peer: string, bytes: number): void {
    for (const s of [this.stats(peer), this.totals]) {
      s.messagesIn++;
      s.bytesIn += bytes;
    }
  }

  /** One frame of `bytes` sent to `peer`. */
  sent(peer: string, bytes: number): void {
    for (const s of [this.stats(peer), this.totals]) {
      s.messagesOut++;
      s.bytesOut += bytes;
    }
  }

  /** A frame from `peer` failed validation with `code`. */
  rejected(peer: string, code: string): void {
    for (const s of [this.stats(peer), this.totals]) {
      s.rejected++;
      bump(s.rejectedByCode, code);
    }
  }

  /** Something else failed with `code` (send error, deadline, remote error, ...). */
  error(peer: string, code: string): void {
    for (const s of [this.stats(peer), this.totals]) {
      s.errors++;
      bump(s.errorsByCode, code);
    }
  }

  /** Record one latency sample for `peer`, milliseconds. */
  latency(peer: string, ms: number): void {
    this.stats(peer).record(ms);
    this.totals.record(ms);
  }

  /** Counters of one peer (zeros when unknown). */
  peer(peer: string): PeerSnapshot {
    return (this.peers.get(peer) ?? new PeerStats()).snapshot();
  }

  /** All counters as plain data. */
  snapshot(): TransportMetricsSnapshot {
    const peers: Record<string, PeerSnapshot> = {};
    for (const [label, s] of this.peers) peers[label] = s.snapshot();
    return { peers, totals: this.totals.snapshot() };
  }

  /** Release the histograms. */
  close(): void {
    for (const s of this.peers.values()) s.free();
    this.totals.free();
  }
}
